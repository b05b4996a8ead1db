"""Dependency direction: the packages below ``core`` never import it.

``http`` imports nothing above it; ``middleware``, ``sessions``, ``tasks``,
``templates``, ``utils`` and ``websocket`` may import ``http`` but not ``core``
(DESIGN.md, "Layers"). Each package and every module in it is imported in a
fresh interpreter, which must end without ``gobstopper.core`` loaded. Imports
inside functions that run only with an app are fine: they do not run here.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

LOWER = ("http", "middleware", "sessions", "tasks", "templates", "utils", "websocket")

PROBE = """
import importlib, pkgutil, sys
package = importlib.import_module({package!r})
skipped = []
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    try:
        importlib.import_module(module.name)
    except ModuleNotFoundError as exc:  # an optional extra that is not installed
        if (exc.name or "").startswith("gobstopper"):
            raise
        skipped.append(module.name)
core = sorted(name for name in sys.modules if name.split(".")[:2] == ["gobstopper", "core"])
print(repr((core, skipped)))
"""


def core_modules_loaded_by(package: str) -> tuple[list[str], list[str]]:
    """``(core modules loaded, modules skipped)`` after importing all of ``package``."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(package=package)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", LOWER)
def test_lower_packages_never_load_the_core(package):
    core, _ = core_modules_loaded_by(f"gobstopper.{package}")
    assert core == [], f"gobstopper.{package} loads {core}"


def test_the_probe_sees_a_package_that_imports_the_core():
    core, _ = core_modules_loaded_by("gobstopper.openapi")  # a higher layer: it may
    assert "gobstopper.core.route_table" in core
