"""Benchmark Gobstopper against raw RSGI and peer frameworks: ``python benchmarks/run.py``.

Run it with the project's interpreter (``.venv/bin/python benchmarks/run.py --quick``);
``--help`` lists the options. Results go to ``benchmarks/RESULTS.md`` and
``benchmarks/RESULTS.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    """Put the project root on ``sys.path`` and run the driver's command line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.driver.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
