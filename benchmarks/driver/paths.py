"""Where the driver finds the project and keeps its files."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
ROOT = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
"""Peer frameworks' virtual environments (git-ignored)."""
DEFAULT_RESULTS = "RESULTS"
"""Results go to ``<name>.md`` and ``<name>.json`` in ``benchmarks/``."""


def results_paths(name: str = DEFAULT_RESULTS) -> tuple[Path, Path]:
    """The Markdown table and the raw JSON a run named ``name`` writes."""
    return BENCH_DIR / f"{name}.md", BENCH_DIR / f"{name}.json"
