"""Benchmark WebSocket fan-out and echo (issue #20): ``python benchmarks/ws_bench.py``.

Run it with the project's interpreter (``.venv/bin/python benchmarks/ws_bench.py``);
``--help`` lists the options. Gobstopper's room (``WebSocketManager.broadcast_to_room``)
against Starlette's and emmett55's idiomatic rooms and a raw RSGI one, and Gobstopper's
echo against raw RSGI's, all under the same Granian. Results go to
``benchmarks/RESULTS-ws.md`` and ``benchmarks/RESULTS-ws.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    """Put the project root on ``sys.path`` and run the WebSocket benchmark's command line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.ws.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
