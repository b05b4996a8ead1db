"""``resolved``: the one rule for callbacks that may be plain or async."""

from __future__ import annotations

import asyncio

from gobstopper.core.awaiting import resolved


class CustomAwaitable:
    """Awaitable through ``__await__`` only, like many library objects."""

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return "custom"


async def coroutine_value() -> str:
    return "from coroutine"


def test_plain_values_come_back_unchanged():
    sentinel = object()
    assert asyncio.run(resolved(sentinel)) is sentinel
    assert asyncio.run(resolved(None)) is None


def test_coroutines_futures_and_custom_awaitables_are_awaited():
    async def scenario() -> list[object]:
        future = asyncio.get_running_loop().create_future()
        future.set_result("from future")
        task = asyncio.ensure_future(coroutine_value())
        return [
            await resolved(coroutine_value()),
            await resolved(future),
            await resolved(task),
            await resolved(CustomAwaitable()),
        ]

    assert asyncio.run(scenario()) == ["from coroutine", "from future", "from coroutine", "custom"]
