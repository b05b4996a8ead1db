"""Wait for what another task, thread or process brings about: poll it, with a deadline.

Use these where no event can be handed to the other side (a server process,
a worker pool, state read through a public API); polls return as soon as the
condition holds, so the deadline is generous.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 30.0
INTERVAL = 0.01


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    what: str,
    deadline: float = DEADLINE,
) -> T:
    """Await ``probe()`` until ``accept`` takes its value; fail after ``deadline`` s."""
    end = time.monotonic() + deadline
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(INTERVAL)


async def eventually(
    check: Callable[[], Awaitable[bool] | bool], what: str, deadline: float = DEADLINE
) -> None:
    """Wait until ``check()`` (sync or async) is true; fail after ``deadline`` s."""

    async def probe() -> bool:
        result = check()
        return await result if inspect.isawaitable(result) else result

    await wait_for(probe, bool, what, deadline)
