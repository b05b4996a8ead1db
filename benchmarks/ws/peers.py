"""The WebSocket apps under test, and the event loops every one of their venvs can run.

Each app is served from its framework's venv (``benchmarks/driver/frameworks.py``), with
its ``benchmarks/apps/ws_<name>.py`` module as the Granian target.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.driver import venvs
from benchmarks.driver.frameworks import BASELINE, FRAMEWORKS, Framework

NAMES = (BASELINE, "gobstopper", "starlette", "emmett55")
"""Raw RSGI first: every ratio is to it."""


@dataclass(frozen=True)
class Peer:
    """One framework's WebSocket app."""

    framework: Framework

    @property
    def name(self) -> str:
        """Return the framework's name."""
        return self.framework.name

    @property
    def target(self) -> str:
        """Return the Granian target of its WebSocket app."""
        return f"benchmarks.apps.ws_{self.name}:app"

    @property
    def granian(self) -> Path:
        """Return the ``granian`` script of its venv."""
        return venvs.granian_for(self.framework)

    def has_module(self, module: str) -> bool:
        """Tell whether ``module`` imports in its venv."""
        done = subprocess.run(
            [str(venvs.python_for(self.framework)), "-c", f"import {module}"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return done.returncode == 0


def select(names: list[str] | None) -> list[Peer]:
    """Return the named peers (all by default), raw RSGI always first."""
    wanted = [BASELINE, *(name for name in names or NAMES if name != BASELINE)]
    unknown = [name for name in wanted if name not in NAMES]
    if unknown:
        raise ValueError(f"unknown WebSocket app(s) {unknown}; known: {list(NAMES)}")
    by_name = {framework.name: framework for framework in FRAMEWORKS}
    return [Peer(by_name[name]) for name in wanted]


def usable_loops(peers: list[Peer], wanted: list[str]) -> tuple[list[str], list[str]]:
    """Split ``wanted`` loops into those every peer's venv can import, and the others.

    asyncio always runs; uvloop only where the ``uvloop`` package is installed.
    """
    usable, missing = [], []
    for loop in wanted:
        if loop == "asyncio" or all(peer.has_module(loop) for peer in peers):
            usable.append(loop)
        else:
            missing.append(loop)
    return usable, missing
