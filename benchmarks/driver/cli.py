"""Command line of the benchmark: parse options, run, report, and stop every server."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from types import FrameType

from benchmarks.driver import bench, report, wrk
from benchmarks.driver import endpoints as endpoints_mod
from benchmarks.driver import frameworks as frameworks_mod
from benchmarks.driver.paths import DEFAULT_RESULTS, results_paths
from benchmarks.driver.results import FrameworkReport, summarize
from benchmarks.driver.server import LOOPS


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmark Gobstopper and peer frameworks under Granian, against raw RSGI.",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds (default 1)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument(
        "--frameworks",
        type=_csv,
        default=None,
        help="comma-separated subset; raw is always added (default: all)",
    )
    parser.add_argument(
        "--endpoints", type=_csv, default=None, help="comma-separated subset (default: all)"
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default=LOOPS[0],
        help="Granian's event loop for every server (default uvloop, the production setting)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 3 s per endpoint"
    )
    parser.add_argument(
        "--output",
        default=None,
        metavar="NAME",
        help="write benchmarks/NAME.md and benchmarks/NAME.json "
        "(default RESULTS under uvloop, RESULTS-asyncio under asyncio)",
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = DEFAULT_RESULTS if args.loop == "uvloop" else f"{DEFAULT_RESULTS}-{args.loop}"
    if args.quick:
        args.rounds, args.duration = 1, 3
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be >= 1, --warmup >= 0")
    try:
        args.frameworks = frameworks_mod.select(args.frameworks)
        args.endpoints = endpoints_mod.select(args.endpoints)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same unwinding as Ctrl-C, so every server gets stopped.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its results (RESULTS.md/.json); return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    settings = bench.Settings(
        rounds=args.rounds,
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        threads=args.threads,
        loop=args.loop,
    )
    load_before = report.load_average()
    try:
        wrk_path = wrk.ensure_installed()
    except wrk.WrkError as exc:
        print(f"cannot get wrk: {exc}", file=sys.stderr)
        return 2
    try:
        reports: dict[str, FrameworkReport] = {}
        for framework in args.frameworks:
            print(f"preparing {framework.name}", flush=True)
            reports[framework.name] = bench.prepare(framework)
        measurements = bench.run(args.frameworks, args.endpoints, settings, wrk_path, reports)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, nothing written", file=sys.stderr)
        return 130
    run = report.RunInfo(
        # The apps' own settings (BENCH_TASKS_STORE, ...) are part of what was measured.
        command=shlex.join([*_bench_settings(), "python", "benchmarks/run.py", *argv]),
        settings=settings,
        wrk_version=wrk.version(wrk_path),
        load_before=load_before,
        load_after=report.load_average(),
    )
    report.write(run, args.endpoints, reports, measurements, summarize(measurements), args.output)
    print("wrote", " and ".join(str(path) for path in results_paths(args.output)))
    failed = [r.name for r in reports.values() if r.status != "ok" or r.failed_checks]
    return 1 if failed else 0


def _bench_settings() -> list[str]:
    """``NAME=value`` for each ``BENCH_*`` variable in the environment, sorted."""
    return [
        f"{name}={value}" for name, value in sorted(os.environ.items()) if name.startswith("BENCH_")
    ]
