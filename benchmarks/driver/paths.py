"""Where the driver finds the project and keeps its files."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
ROOT = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
"""Peer frameworks' virtual environments (git-ignored)."""
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON = BENCH_DIR / "results.json"
