"""One rule for user callbacks that may be plain or ``async`` functions.

Hooks, middleware, error handlers, context processors and startup/shutdown
callbacks may return a value or an awaitable of it; ``resolved`` awaits the
latter, so every caller treats both kinds the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import CoroutineType
from typing import Any


async def resolved(value: Any) -> Any:
    """``value``, or what it resolves to when it is awaitable (coroutine, Future, task).

    PERF: a type test plus an ``Awaitable`` check instead of ``inspect.isawaitable``
    keeps ``inspect`` (~6 ms: ast, dis, tokenize) out of ``import gobstopper``. The two
    differ only for pre-``async def`` generator coroutines (``@types.coroutine``),
    which are not ``Awaitable`` and are returned here unawaited.
    """
    if type(value) is CoroutineType or isinstance(value, Awaitable):
        return await value
    return value
