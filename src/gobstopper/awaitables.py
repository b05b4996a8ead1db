"""One rule for user callbacks that may be plain or ``async`` functions.

Hooks, middleware, error handlers, context processors, session storages and
startup/shutdown callbacks may return a value or an awaitable of it:
``resolved`` awaits the latter, so every caller treats both kinds the same
way. ``is_async_callable`` tells, once at registration, which kind a callable
is. A bottom module: it imports nothing from gobstopper, so every layer may
use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


def is_async_callable(func: Callable[..., Any]) -> bool:
    """Is ``func`` an ``async def``, or an object whose ``__call__`` is one?"""
    # PERF: lazy — inspect costs ~6 ms at import; this runs at registration, never per request.
    import inspect

    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - instances with async __call__
    return call is not None and inspect.iscoroutinefunction(call)
