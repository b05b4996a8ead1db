"""Added CPU per request of the ops features, in-process (no server, no network).

Drives ``app.__rsgi__`` with one reused scope and a protocol object that drops
the response, for a dynamic route ``/users/<int:id>`` returning a small dict.
Prints µs per request and the difference to the plain app.

    .venv/bin/python benchmarks/ops_inprocess.py [requests]

Wall-clock µs on a shared machine move by ±0.5 µs between runs; for an A/B
count instructions instead: run the same requests under
``PYTHONHASHSEED=0 valgrind --tool=callgrind`` with N requests and with none,
and divide the difference by N (docs/operations.md, "Cost per request").
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import time
from typing import Any

from gobstopper.core.app import Gobstopper
from gobstopper.testing import FakeHeaders, FakeScope


class NullProtocol:
    """Accepts the one response call and drops it."""

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        pass

    response_str = response_bytes

    def response_empty(self, status: int, headers: Any) -> None:
        pass


def build(features: tuple[str, ...]) -> Gobstopper:
    app = Gobstopper()

    @app.get("/users/<int:id>")
    async def user(request: Any, id: int) -> dict[str, int]:
        return {"id": id}

    if "noop-middleware" in features:

        async def noop(request: Any, call_next: Any) -> Any:
            return await call_next(request)

        app.add_middleware(noop)
    if "metrics" in features:
        app.enable_metrics()
    if "access-log" in features:
        logger = logging.getLogger("bench.access")
        logger.propagate = False
        handler = logging.StreamHandler(open(os.devnull, "w"))
        from gobstopper.ops.access_log import JsonFormatter

        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        app.enable_access_log(logger)
    return app


async def per_request_us(app: Gobstopper, n: int) -> float:
    scope = FakeScope("GET", "/users/42", "", FakeHeaders([("host", "bench")]))
    proto = NullProtocol()
    await app.startup()
    rsgi = app.__rsgi__
    for _ in range(1000):
        await rsgi(scope, proto)
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(n):
            await rsgi(scope, proto)
        runs.append((time.perf_counter() - began) / n * 1e6)
    await app.shutdown()
    return statistics.median(runs)


async def main(n: int) -> None:
    variants = [
        (),
        ("noop-middleware",),
        ("metrics",),
        ("access-log",),
        ("metrics", "access-log"),
    ]
    base = None
    for features in variants:
        us = await per_request_us(build(features), n)
        base = us if base is None else base
        label = " + ".join(features) or "plain"
        print(f"{label:28} {us:7.2f} us/request   +{us - base:5.2f} us")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
