"""CPU per request of the benchmark apps in-process: Gobstopper beside raw RSGI.

No server and no network: each app's RSGI callable is driven with a reused scope and
a protocol that keeps nothing, for the HTTP benchmark's endpoints. What is left is the
Python each request runs, so the difference between the two rows is what the
framework adds (the served benchmark adds Granian's own, equal, share on top).
Use it to measure a change to the hot path in seconds; ``benchmarks/run.py`` decides.

    .venv/bin/python benchmarks/inprocess.py [--requests N] [--endpoints a,b] [--profile NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.apps import gobstopper_app, raw_app  # noqa: E402
from benchmarks.apps.common import ECHO_PAYLOAD  # noqa: E402
from gobstopper.testing import FakeHeaders, FakeScope  # noqa: E402

RSGIApp = Callable[[Any, Any], Awaitable[None]]
ECHO_BODY = json.dumps(ECHO_PAYLOAD).encode()
ENDPOINTS = {
    "plaintext": ("GET", "/plaintext", ""),
    "json": ("GET", "/json", ""),
    "users": ("GET", "/users/123", "q=x"),
    "echo": ("POST", "/echo", ""),
    "mw": ("GET", "/mw", ""),
    "miss": ("GET", "/no/such/path", ""),
}


class DroppingProtocol:
    """Granian's HTTP protocol, minus the network: the body is fixed, answers are dropped."""

    __slots__ = ("body", "status")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = 0

    async def __call__(self) -> bytes:
        return self.body

    def response_str(self, status: int, headers: Any, body: str) -> None:
        self.status = status

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status

    def response_empty(self, status: int, headers: Any) -> None:
        self.status = status


def _scope(endpoint: str) -> FakeScope:
    method, path, query = ENDPOINTS[endpoint]
    headers = [("host", "bench")]
    if method == "POST":
        headers += [
            ("content-type", "application/json"),
            ("content-length", str(len(ECHO_BODY))),
        ]
    return FakeScope(method, path, query, FakeHeaders(headers))


async def per_request_us(app: RSGIApp, endpoint: str, requests: int) -> tuple[float, int]:
    """Median µs per request over 5 runs, and the status the app answered."""
    scope = _scope(endpoint)
    proto = DroppingProtocol(ECHO_BODY if scope.method == "POST" else b"")
    for _ in range(1000):
        await app(scope, proto)
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(requests):
            await app(scope, proto)
        runs.append((time.perf_counter() - began) / requests * 1e6)
    return statistics.median(runs), proto.status


async def profile(app: RSGIApp, endpoint: str, requests: int) -> None:
    """Print the functions one request of ``endpoint`` spends most own time in."""
    scope = _scope(endpoint)
    proto = DroppingProtocol(ECHO_BODY if scope.method == "POST" else b"")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await app(scope, proto)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


async def main(argv: list[str]) -> None:
    """Measure every endpoint on both apps, or profile one endpoint of Gobstopper."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--profile", metavar="ENDPOINT", help="profile Gobstopper on it instead")
    args = parser.parse_args(argv)
    gobstopper = gobstopper_app.app
    await gobstopper.startup()
    if args.profile:
        await profile(gobstopper.__rsgi__, args.profile, args.requests)
        return
    print(f"{'endpoint':10} {'raw µs':>8} {'gobstopper µs':>14} {'added µs':>9}")
    for endpoint in args.endpoints.split(","):
        raw_us, raw_status = await per_request_us(raw_app.app, endpoint, args.requests)
        ours_us, status = await per_request_us(gobstopper.__rsgi__, endpoint, args.requests)
        note = "" if status == raw_status else f"  (status {status} vs raw {raw_status})"
        print(f"{endpoint:10} {raw_us:8.2f} {ours_us:14.2f} {ours_us - raw_us:9.2f}{note}")
    await gobstopper.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
