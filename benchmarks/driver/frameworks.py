"""The frameworks under test and how each one is installed and served.

``raw`` runs from the project's own environment (the interpreter running the driver).
Every framework, Gobstopper included, gets its own virtual environment under
``benchmarks/.venvs/`` with the same Granian version as the project, so only the framework
differs between servers. Gobstopper is installed there from this checkout the way a user
installs it (a built wheel, byte-compiled, without the project's dev tools), so its import
time and memory are measured under the same conditions as the peers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.driver.paths import ROOT

BASELINE = "raw"
THIS_CHECKOUT = f"gobstopper[templates,tasks,redis] @ {ROOT.as_uri()}"
"""The pip requirement that installs Gobstopper from this working tree (tasks, redis: /enqueue)."""


@dataclass(frozen=True)
class Framework:
    """One framework: its app target, Granian interface and installation."""

    name: str
    interface: str
    """Granian ``--interface``: ``rsgi`` or ``asgi``."""
    requirements: tuple[str, ...] = ()
    """pip requirements of its own venv; empty means the project's environment."""
    distributions: tuple[str, ...] = ()
    """Installed distributions whose versions the report lists."""
    import_statement: str = ""
    """What ``-X importtime`` measures; empty for none."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables for its server."""
    app_module: str = ""
    """The ``benchmarks.apps`` module serving it; empty means ``<name>_app``."""
    shares_venv_of: str = ""
    """Another framework whose venv it is served from (same install, other interface)."""

    @property
    def target(self) -> str:
        """Return the Granian application target."""
        return f"benchmarks.apps.{self.app_module or self.name + '_app'}:app"

    @property
    def venv_name(self) -> str:
        """Return the name of the virtual environment it is served from."""
        return self.shares_venv_of or self.name

    @property
    def has_own_venv(self) -> bool:
        """Tell whether it is installed into its own virtual environment."""
        return bool(self.requirements)


FRAMEWORKS: tuple[Framework, ...] = (
    Framework(BASELINE, "rsgi", distributions=("msgspec", "jinja2")),
    Framework(
        "gobstopper",
        "rsgi",
        requirements=(THIS_CHECKOUT,),
        distributions=("gobstopper", "msgspec", "jinja2", "duckdb"),
        import_statement="import gobstopper",
    ),
    Framework(
        "gobstopper-asgi",
        "asgi",
        requirements=(THIS_CHECKOUT,),
        distributions=("gobstopper", "msgspec", "jinja2"),
        app_module="gobstopper_app",
        shares_venv_of="gobstopper",
    ),
    Framework("raw-asgi", "asgi", distributions=("msgspec", "jinja2"), app_module="raw_asgi_app"),
    Framework(
        "emmett55",
        "rsgi",
        requirements=("emmett55[orjson]", "jinja2", "msgspec"),
        distributions=("emmett55", "emmett-core", "orjson", "msgspec", "jinja2"),
        import_statement="import emmett55",
    ),
    Framework(
        "starlette",
        "asgi",
        requirements=("starlette", "jinja2", "msgspec"),
        distributions=("starlette", "msgspec", "jinja2"),
        import_statement="import starlette.applications",
    ),
    Framework(
        "fastapi",
        "asgi",
        requirements=("fastapi", "jinja2"),
        distributions=("fastapi", "starlette", "pydantic", "jinja2"),
        import_statement="import fastapi",
    ),
    Framework(
        "litestar",
        "asgi",
        requirements=("litestar", "jinja2"),
        distributions=("litestar", "msgspec", "jinja2"),
        import_statement="import litestar",
    ),
    Framework(
        "blacksheep",
        "asgi",
        requirements=("blacksheep", "jinja2", "pydantic"),
        distributions=("blacksheep", "pydantic", "jinja2"),
        import_statement="import blacksheep",
        env={"APP_JINJA_EXTENSION": ".html"},
    ),
)


def select(names: list[str] | None) -> list[Framework]:
    """Return the named frameworks (all when ``names`` is None), the baseline always first.

    The baseline is added when missing: every ratio in the report is to it, from the same run.
    Raises ``ValueError`` for an unknown name.
    """
    by_name = {fw.name: fw for fw in FRAMEWORKS}
    if names is None:
        return list(FRAMEWORKS)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(f"unknown framework(s) {unknown}; known: {sorted(by_name)}")
    wanted = {BASELINE, *names}
    return [fw for fw in FRAMEWORKS if fw.name in wanted]
