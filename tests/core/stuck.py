"""A request that hangs inside its handler, for shutdown and cancellation tests."""

from __future__ import annotations

import asyncio

from gobstopper import Gobstopper
from gobstopper.testing import FakeHTTPProtocol, build_request


async def start_stuck_request(
    app: Gobstopper, path: str = "/stuck"
) -> tuple[asyncio.Task[None], FakeHTTPProtocol]:
    """Route ``path`` to a handler that sleeps 30 s, send one request, wait until it runs.

    Returns the request's task and the fake protocol that records its answer.
    """
    started = asyncio.Event()

    async def stuck(request):
        started.set()
        await asyncio.sleep(30)

    app.get(path)(stuck)
    scope, body = build_request("GET", path)
    proto = FakeHTTPProtocol(body)
    task = asyncio.create_task(app.__rsgi__(scope, proto))
    await asyncio.wait_for(started.wait(), 5)
    return task, proto
