"""HTTP latency while 10,000 background tasks run through DuckDB.

Run: ``python benchmarks/tasks_latency.py`` (``--help`` for options). Needs wrk
(installed with apt-get when missing, as ``run.py`` does).

Serves ``benchmarks/apps/tasks_latency_app.py`` under Granian (one worker),
measures ``GET /ping`` with wrk on an idle server, then again while N tasks
are enqueued and processed by 16 workers in the same process. The event loop
must stay responsive: the second p99 is what a user waits while tasks run.
Prints one JSON line; exits 1 if any task went missing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.driver import wrk
from benchmarks.driver.server import HOST, LOOPS, serve

TARGET = "benchmarks.apps.tasks_latency_app:app"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=5, help="wrk seconds per phase")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--loop", choices=LOOPS, default=LOOPS[0], help="Granian's event loop")
    return parser.parse_args()


def _call(port: int, method: str, path: str) -> dict:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _wait_done(port: int, tasks: int, deadline_s: float) -> tuple[int, float]:
    """Poll /progress until every task is done; return (done, seconds waited)."""
    began = time.monotonic()
    done = 0
    while time.monotonic() - began < deadline_s:
        done = _call(port, "GET", "/progress")["done"]
        if done >= tasks:
            break
        time.sleep(0.2)
    return done, time.monotonic() - began


def main() -> int:
    """Measure idle and busy p99 of /ping; print one JSON line."""
    args = _parse()
    binary = wrk.ensure_installed()
    granian = Path(sys.executable).with_name("granian")
    with tempfile.TemporaryDirectory() as folder:
        env = {"TASKS_BENCH_DB": str(Path(folder) / "tasks.duckdb")}
        log = Path(folder) / "server.log"
        with serve(granian, "rsgi", args.loop, TARGET, env, log) as server:
            url = f"http://{HOST}:{server.port}/ping"
            options = {
                "duration_s": args.duration,
                "connections": args.connections,
                "threads": 1,
                "script": None,
            }
            idle = wrk.run(binary, url, **options)
            began = time.monotonic()
            _call(server.port, "POST", f"/enqueue?n={args.tasks}")
            busy = wrk.run(binary, url, **options)
            done, _ = _wait_done(server.port, args.tasks, deadline_s=max(120.0, args.tasks / 20))
            elapsed = time.monotonic() - began
    result = {
        "benchmark": "http_latency_while_tasks_run",
        "tasks": args.tasks,
        "tasks_done": done,
        "tasks_per_second_under_http_load": round(done / elapsed, 1),
        "idle": {"rps": idle.rps, "p99_ms": idle.p99_ms, "errors": idle.socket_errors},
        "busy": {"rps": busy.rps, "p99_ms": busy.p99_ms, "errors": busy.socket_errors},
    }
    print(json.dumps(result))
    return 0 if done == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
