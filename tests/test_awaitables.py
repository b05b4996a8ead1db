"""``gobstopper.awaitables``: the one rule for callbacks that may be plain or async."""

from __future__ import annotations

import asyncio

from gobstopper.awaitables import is_async_callable, resolved


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


def test_async_callables_are_told_apart_from_plain_ones():
    class AsyncCall:
        async def __call__(self) -> None:
            return None

    class PlainCall:
        def __call__(self) -> None:
            return None

    assert is_async_callable(coroutine_value)
    assert is_async_callable(AsyncCall())
    assert not is_async_callable(PlainCall())
    assert not is_async_callable(len)
