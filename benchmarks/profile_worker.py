"""Profile a served Granian worker under wrk load, per request, for each event loop.

Run: ``python benchmarks/profile_worker.py --framework gobstopper --endpoint plaintext``.

For each loop (uvloop, asyncio) the app is served by Granian with the benchmark's
options through ``benchmarks.profiled`` (cProfile inside the worker), loaded by wrk for
a fixed time, and stopped; the worker's profile is then printed per request: the
functions with the most own time, and how many calls of each a request makes. cProfile
slows every Python call, so read the call counts and the shares, not the absolute µs.
Serve ``raw`` the same way to see what a request costs without a framework.
"""

from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.driver import endpoints as endpoints_mod  # noqa: E402
from benchmarks.driver import frameworks as frameworks_mod  # noqa: E402
from benchmarks.driver import venvs, wrk  # noqa: E402
from benchmarks.driver.server import LOOPS, serve  # noqa: E402


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--framework", default="gobstopper", help="an RSGI framework (default gobstopper)"
    )
    parser.add_argument("--endpoint", default="plaintext", help="endpoint name (default plaintext)")
    parser.add_argument("--loops", default=",".join(LOOPS), help="comma-separated (default both)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load (default 5)")
    parser.add_argument("--top", type=int, default=25, help="functions to print (default 25)")
    return parser.parse_args(argv)


def _print_profile(path: Path, requests: int, top: int) -> None:
    stats = pstats.Stats(str(path))
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((own, cumulative, calls, f"{Path(filename).name}:{line}({name})"))
    total = sum(row[0] for row in rows)
    print(f"  {requests:,} requests; profiled own time {total / requests * 1e6:.1f} µs/request")
    print(f"  {'own µs/req':>10} {'share':>6} {'calls/req':>9}  function")
    for own, _, calls, label in sorted(rows, reverse=True)[:top]:
        print(f"  {own / requests * 1e6:10.2f} {own / total:6.1%} {calls / requests:9.2f}  {label}")


def main(argv: list[str] | None = None) -> int:
    """Serve, load and profile; print each loop's per-request profile."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    framework = frameworks_mod.select([args.framework])[-1]
    if framework.interface != "rsgi":
        print("profiling is for RSGI frameworks (the worker hook is __rsgi_del__)", file=sys.stderr)
        return 2
    endpoint = endpoints_mod.select([args.endpoint])[0]
    venvs.ensure(framework)
    wrk_path = wrk.ensure_installed()
    with tempfile.TemporaryDirectory(prefix="gobstopper-profile-") as tmp:
        folder = Path(tmp)
        script = wrk.lua_script(endpoint, folder)
        for loop in args.loops.split(","):
            output = folder / f"{loop}.prof"
            env = {"PROFILED_TARGET": framework.target, "PROFILED_OUTPUT": str(output)}
            with serve(
                venvs.granian_for(framework),
                "rsgi",
                loop,
                "benchmarks.profiled:app",
                env,
                folder / f"{loop}.log",
            ) as server:
                problem = endpoints_mod.check(server.port, endpoint)
                if problem is not None:
                    print(f"{loop}: wrong answer: {problem}", file=sys.stderr)
                    return 1
                url = f"http://127.0.0.1:{server.port}{endpoint.path}"
                result = wrk.run(
                    wrk_path,
                    url,
                    duration_s=args.duration,
                    connections=64,
                    threads=1,
                    script=script,
                )
            print(f"{framework.name} {endpoint.name} under {loop}:")
            if not output.exists():
                print("  no profile written (the worker did not stop cleanly)", file=sys.stderr)
                return 1
            _print_profile(output, result.requests + 1, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
