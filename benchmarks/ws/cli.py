"""Command line of the WebSocket benchmark (``benchmarks/ws_bench.py``)."""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import time
from types import FrameType

from benchmarks.driver import venvs
from benchmarks.driver.paths import ROOT
from benchmarks.driver.report import load_average
from benchmarks.driver.server import LOOPS
from benchmarks.ws import bench, peers, report
from benchmarks.ws.echo import EchoSettings
from benchmarks.ws.fanout import FanoutSettings

BENCHES = ("echo", "fanout")
DESCRIPTION = (
    "WebSocket fan-out and echo benchmark (issue #20); results in benchmarks/RESULTS-ws.md"
)


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="benchmarks/ws_bench.py", description=DESCRIPTION)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--frameworks", type=_csv, default=None, help=f"subset of {','.join(peers.NAMES)}"
    )
    parser.add_argument(
        "--loops", type=_csv, default=list(LOOPS), help="event loops (default: uvloop,asyncio)"
    )
    parser.add_argument(
        "--benches", type=_csv, default=list(BENCHES), help="echo, fanout or both (default)"
    )
    parser.add_argument("--members", type=int, default=500, help="clients in the room")
    parser.add_argument("--messages", type=int, default=100, help="fan-out messages sent")
    parser.add_argument("--window", type=int, default=4, help="fan-out messages in flight")
    parser.add_argument("--connections", type=int, default=64, help="echo connections")
    parser.add_argument("--echoes", type=int, default=300, help="round trips per connection")
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    return parser.parse_args(argv)


def describe_source() -> str:
    """Say which commit the working tree is at, and whether ``src/`` differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "src")
    return f"working tree at {commit}" + (
        " with uncommitted changes under src/ (the shared tree others edit)" if dirty else ""
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Set up the venvs, run the rounds and write the results.

    SIGTERM interrupts the run like Ctrl-C, so the running server is stopped on the way out.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    arguments = sys.argv[1:] if argv is None else argv
    args = parse_args(arguments)
    selected = peers.select(args.frameworks)
    for peer in selected:
        print(f"venv for {peer.name}…", flush=True)
        venvs.ensure(peer.framework)
    loops, skipped = peers.usable_loops(selected, args.loops)
    for loop in skipped:
        print(f"{loop} is not installed in every venv: measuring {', '.join(loops)} only")
    settings = bench.Settings(
        rounds=args.rounds,
        loops=loops,
        benches=[bench for bench in BENCHES if bench in args.benches],
        echo=EchoSettings(connections=args.connections, messages=args.echoes, size=args.size),
        fanout=FanoutSettings(
            members=args.members, messages=args.messages, window=args.window, size=args.size
        ),
    )
    source = describe_source()
    load_before = load_average()
    started = time.monotonic()
    measurements = bench.run(selected, settings, lambda line: print(line, flush=True))
    summary = bench.summarize(measurements)
    run = report.RunInfo(
        command=shlex.join([".venv/bin/python", "benchmarks/ws_bench.py", *arguments]),
        source=source,
        settings=settings,
        skipped_loops=skipped,
        versions={peer.name: venvs.versions(peer.framework) for peer in selected},
        load_before=load_before,
        load_after=load_average(),
        minutes=(time.monotonic() - started) / 60,
    )
    for path in report.write(run, measurements, summary):
        print(f"wrote {path}")
    return 1 if any(m.error for m in measurements) else 0
