"""Give each peer framework its own virtual environment, and read installed versions.

A venv is (re)built when missing or when its requirement list changed; Granian is
pinned to the project's version so every server is the same Granian. A venv that installs
this checkout is also rebuilt when the project's source changed since it was built.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from benchmarks.driver.frameworks import Framework
from benchmarks.driver.paths import ROOT, VENVS_DIR

PIP_TIMEOUT_S = 900
_STAMP = ".bench-requirements"
_VERSIONS_SCRIPT = """
import json, sys
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
print(json.dumps({name: version(name) for name in sys.argv[1:]}))
"""


class SetupError(RuntimeError):
    """A virtual environment could not be created or installed."""


SAME_AS_PROJECT = ("granian", "uvloop")
"""Installed in every venv at the project's version: the server and its event loop."""


def project_granian_version() -> str:
    """Return the Granian version installed in the project's environment."""
    return metadata.version("granian")


def python_for(framework: Framework) -> Path:
    """Return the interpreter that serves ``framework``."""
    if not framework.has_own_venv:
        return Path(sys.executable)
    return VENVS_DIR / framework.venv_name / "bin" / "python"


def granian_for(framework: Framework) -> Path:
    """Return the ``granian`` script that serves ``framework``."""
    return python_for(framework).parent / "granian"


def _requirements(framework: Framework) -> list[str]:
    pinned = [f"{name}=={metadata.version(name)}" for name in SAME_AS_PROJECT]
    return sorted([*framework.requirements, *pinned])


def _source_digest() -> str:
    """Fingerprint the project's packaging and source, to notice an outdated install."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_text(framework: Framework) -> str:
    """What the venv's stamp file holds when it is up to date."""
    lines = _requirements(framework)
    if any(ROOT.as_uri() in requirement for requirement in lines):
        lines.append(f"source {_source_digest()}")
    return "\n".join(lines)


def ensure(framework: Framework) -> None:
    """Create and install ``framework``'s venv unless it is already up to date.

    Raises ``SetupError`` (with the tail of pip's log) when creation or install fails.
    """
    if not framework.has_own_venv:
        return
    venv = VENVS_DIR / framework.venv_name
    stamp = venv / _STAMP
    wanted = _stamp_text(framework)
    if python_for(framework).exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    log_path = VENVS_DIR / f"{framework.venv_name}.pip.log"
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    steps = {
        "venv creation": [sys.executable, "-m", "venv", "--clear", str(venv)],
        "pip install": [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            *_requirements(framework),
        ],
    }
    with log_path.open("w") as log:
        for label, step in steps.items():
            log.write(f"$ {' '.join(step)}\n")
            log.flush()
            try:
                done = subprocess.run(
                    step, stdout=log, stderr=subprocess.STDOUT, timeout=PIP_TIMEOUT_S, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise SetupError(f"{label} timed out after {PIP_TIMEOUT_S} s") from exc
            if done.returncode != 0:
                tail = "\n".join(log_path.read_text().splitlines()[-10:])
                raise SetupError(f"{label} failed (log: {log_path}):\n{tail}")
    stamp.write_text(wanted)


def versions(framework: Framework) -> dict[str, str]:
    """Return the installed version of Python, Granian and ``framework``'s distributions."""
    python = python_for(framework)
    done = subprocess.run(
        [str(python), "-c", _VERSIONS_SCRIPT, "granian", *framework.distributions],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise SetupError(f"cannot read versions from {python}:\n{done.stderr[-1000:]}")
    found: dict[str, str] = json.loads(done.stdout)
    probe = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {"python": probe.stdout.strip(), **found}
