"""CPU per request of the benchmark apps in-process: Gobstopper beside its raw ceiling.

No server and no network: each app is driven with a reused scope and a protocol (RSGI)
or ``receive``/``send`` pair (ASGI) that keeps nothing, for the HTTP benchmark's
endpoints. What is left is the Python each request runs, so the difference between the
rows is what the framework adds (the served benchmark adds the server's own, equal,
share on top). Use it to measure a change to the hot path in seconds;
``benchmarks/run.py`` decides.

``--interface rsgi`` (the default) compares ``raw_app`` with Gobstopper's ``__rsgi__``;
``--interface asgi`` compares ``raw_asgi_app`` with Gobstopper's ASGI callable, and with
BlackSheep's app when ``blacksheep`` imports (it lives in its own benchmark venv).

    .venv/bin/python benchmarks/inprocess.py [--interface rsgi|asgi] [--requests N]
        [--endpoints a,b] [--profile NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.apps import gobstopper_app, raw_app, raw_asgi_app  # noqa: E402
from benchmarks.apps.common import ECHO_PAYLOAD  # noqa: E402
from gobstopper.testing import FakeHeaders, FakeScope  # noqa: E402

#: One request of one endpoint to one app, ready to await again and again.
Call = Callable[[], Awaitable[None]]
ECHO_BODY = json.dumps(ECHO_PAYLOAD).encode()
ENDPOINTS = {
    "plaintext": ("GET", "/plaintext", ""),
    "json": ("GET", "/json", ""),
    "users": ("GET", "/users/123", "q=x"),
    "echo": ("POST", "/echo", ""),
    "mw": ("GET", "/mw", ""),
    "miss": ("GET", "/no/such/path", ""),
}


def _headers(method: str) -> list[tuple[str, str]]:
    """The request headers every app sees: Host, and the body's type and size for POST."""
    headers = [("host", "bench")]
    if method == "POST":
        headers += [
            ("content-type", "application/json"),
            ("content-length", str(len(ECHO_BODY))),
        ]
    return headers


class DroppingProtocol:
    """Granian's RSGI HTTP protocol, minus the network: the body is fixed, answers dropped."""

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


class DroppingChannel:
    """An ASGI server's ``receive``/``send``, minus the network: same contract as above."""

    __slots__ = ("message", "status")

    def __init__(self, body: bytes) -> None:
        self.message = {"type": "http.request", "body": body, "more_body": False}
        self.status = 0

    async def receive(self) -> dict[str, Any]:
        return self.message

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


def rsgi_request(app: Any, endpoint: str) -> tuple[Call, DroppingProtocol]:
    """A request of ``endpoint`` to the RSGI callable ``app``, and what records its status."""
    method, path, query = ENDPOINTS[endpoint]
    scope = FakeScope(method, path, query, FakeHeaders(_headers(method)))
    proto = DroppingProtocol(ECHO_BODY if method == "POST" else b"")
    return functools.partial(app, scope, proto), proto


def asgi_request(app: Any, endpoint: str) -> tuple[Call, DroppingChannel]:
    """A request of ``endpoint`` to the ASGI callable ``app``, as Granian's scope has it."""
    method, path, query = ENDPOINTS[endpoint]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in _headers(method)],
        "extensions": {"http.response.pathsend": {}},
    }
    channel = DroppingChannel(ECHO_BODY if method == "POST" else b"")
    return functools.partial(app, scope, channel.receive, channel.send), channel


def asgi_apps() -> dict[str, Any]:
    """The ASGI apps to compare, BlackSheep's only when it imports."""
    apps = {"raw-asgi": raw_asgi_app.app, "gobstopper-asgi": gobstopper_app.app}
    try:
        from benchmarks.apps import blacksheep_app
    except ModuleNotFoundError as missing:
        print(f"(blacksheep left out: {missing})")
    else:
        apps["blacksheep"] = blacksheep_app.app
    return apps


class Interface(NamedTuple):
    """How to build a request for an app, and the apps (the ceiling first, then Gobstopper)."""

    request: Callable[[Any, str], tuple[Call, DroppingProtocol | DroppingChannel]]
    apps: Callable[[], dict[str, Any]]


INTERFACES = {
    "rsgi": Interface(
        rsgi_request, lambda: {"raw": raw_app.app, "gobstopper": gobstopper_app.app.__rsgi__}
    ),
    "asgi": Interface(asgi_request, asgi_apps),
}


async def per_request_us(call: Call, requests: int) -> float:
    """Median µs per request over 5 runs of ``requests``, after 1,000 to warm up."""
    for _ in range(1000):
        await call()
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(requests):
            await call()
        runs.append((time.perf_counter() - began) / requests * 1e6)
    return statistics.median(runs)


async def profile(call: Call, requests: int) -> None:
    """Print the functions ``requests`` calls spend most own time in."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


async def main(argv: list[str]) -> None:
    """Measure every endpoint on each app, or profile one endpoint of Gobstopper."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interface", choices=INTERFACES, default="rsgi")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--profile", metavar="ENDPOINT", help="profile Gobstopper on it instead")
    args = parser.parse_args(argv)
    interface = INTERFACES[args.interface]
    apps = interface.apps()
    ceiling, ours = list(apps)[:2]
    await gobstopper_app.app.startup()
    if args.profile:
        await profile(interface.request(apps[ours], args.profile)[0], args.requests)
        return
    print(f"{'endpoint':10}" + "".join(f" {name + ' µs':>18}" for name in apps) + " added µs")
    for endpoint in args.endpoints.split(","):
        times, statuses = [], []
        for app in apps.values():
            call, answered = interface.request(app, endpoint)
            times.append(await per_request_us(call, args.requests))
            statuses.append(answered.status)
        cells = "".join(f" {us:18.2f}" for us in times)
        answers = zip(apps, statuses, strict=True)
        odd = [f"{name} {status}" for name, status in answers if status != statuses[0]]
        note = f"  (status {', '.join(odd)} vs {ceiling} {statuses[0]})" if odd else ""
        print(f"{endpoint:10}{cells} {times[1] - times[0]:8.2f}{note}")
    await gobstopper_app.app.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
