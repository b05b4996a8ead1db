"""Idempotency keys: run an unsafe handler once per key and replay its response.

A client retrying a POST (after a timeout or a dropped connection) sends the same
key in the ``Idempotency-Key`` header (or as ``?idempotency_key=``).
``@use_idempotency()`` runs the handler for the first request and answers repeats
within ``ttl_seconds`` with the stored response, marked ``Idempotent-Replayed: true``.
Requests without a key run normally.

- Scope: results are stored per decorated handler, HTTP method, path and key, so a
  key reused on another endpoint (or for another resource's path) runs that handler
  rather than returning a foreign result. Keys are not tied to a client: like
  Stripe's, they must be unguessable (a UUID).
- Concurrency: a request whose key is being handled waits for the first one and gets
  its response. If the first raises, nothing is stored and the waiting request runs
  the handler itself: a failure is not a result.
- What is stored: a snapshot of the response, built from the return value as the
  pipeline would, taken before any hook runs; every replay gets its own copy, so
  hooks that change headers or add cookies never alter later replays. Exceptions
  (``abort(409)`` included) and streamed responses (a generator runs once) are not
  stored.
- Memory: expired entries are dropped when looked up and from the oldest end, and at
  most ``MAX_ENTRIES`` are kept, the oldest evicted first.

Single process only: with several workers a retry reaching another worker runs the
handler again; that needs a shared store (Redis is the project's choice for it).
``remember_idempotency``/``get_idempotent`` use the same default store, without the
per-handler scope.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from gobstopper.core.pipeline import is_async_callable
from gobstopper.http.coercion import to_response
from gobstopper.http.errors import BadRequest
from gobstopper.http.response import BaseResponse, StreamResponse

F = TypeVar("F", bound=Callable[..., Any])

#: Most entries the default store keeps; beyond it the oldest are evicted.
MAX_ENTRIES = 10_000
#: Longest key accepted (as Stripe); longer is a 400, so keys cannot eat memory.
MAX_KEY_LENGTH = 255
#: Most expired entries dropped per store write (amortised O(1), no long pause).
SWEEP_BATCH = 8
HEADER = "idempotency-key"
QUERY_ARG = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
_MISSING: Any = object()


def _checked_ttl(ttl_seconds: float) -> float:
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, (int, float)) \
            or not (math.isfinite(ttl_seconds) and ttl_seconds > 0):
        raise ValueError(f"ttl_seconds must be a positive finite number, got {ttl_seconds!r}")
    return ttl_seconds


class IdempotencyStore:
    """Values by key, each with its own time to live; at most ``max_entries``.

    Thread-safe. ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an int of at least 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        # Keys being handled now, and the event their waiters wait on (event loop only).
        self._running: dict[Hashable, asyncio.Event] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many entries are held (expired ones not yet dropped included)."""
        return len(self._entries)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` if missing or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return default
            if entry[0] <= self._clock():
                del self._entries[key]
                return default
            return entry[1]

    def set(self, key: Hashable, value: Any, ttl_seconds: float = 60.0) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``, replacing any previous one."""
        ttl = _checked_ttl(ttl_seconds)
        with self._lock:
            now = self._clock()
            self._entries[key] = (now + ttl, value)
            self._entries.move_to_end(key)
            self._drop_old(now)

    def _drop_old(self, now: float) -> None:
        """Drop up to SWEEP_BATCH expired entries from the oldest end, then any excess."""
        entries = self._entries
        for _ in range(SWEEP_BATCH):
            if not entries:
                break
            oldest = next(iter(entries))
            if entries[oldest][0] > now:
                break
            del entries[oldest]
        while len(entries) > self.max_entries:
            entries.popitem(last=False)


_DEFAULT_STORE = IdempotencyStore()


def idempotency_key(request: Any) -> str | None:
    """The request's key: the ``Idempotency-Key`` header, else the first
    ``idempotency_key`` query value; None if absent or empty, 400 if too long."""
    key = request.headers.get(HEADER)
    if not key:
        values = request.args.get(QUERY_ARG)
        key = values[0] if values else None
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency key too long (at most {MAX_KEY_LENGTH} characters)")
    return key


def use_idempotency(
    ttl_seconds: float = 60.0, *, store: IdempotencyStore | None = None
) -> Callable[[F], F]:
    """Run the decorated handler once per idempotency key; replay its response.

    Put it under the route decorator. The handler's first positional argument must
    be the request; its signature stays visible, so path and body parameters are
    still injected. A sync handler runs in a thread. ``store`` defaults to the
    module's store (shared with ``remember_idempotency``).

    >>> @app.post("/payments")
    ... @use_idempotency(ttl_seconds=3600)
    ... async def pay(request, payment: Payment): ...
    """
    ttl = _checked_ttl(ttl_seconds)
    target = _DEFAULT_STORE if store is None else store

    def decorate(handler: F) -> F:
        call = handler if is_async_callable(handler) else _in_thread(handler)
        scope = object()  # this handler's namespace in the store

        @functools.wraps(handler)
        async def idempotent(*args: Any, **kwargs: Any) -> Any:
            request = args[0]
            key = idempotency_key(request)
            if key is None:
                return await call(*args, **kwargs)
            slot = (scope, request.method, request.path, key)
            return await _once(target, slot, ttl, functools.partial(call, *args, **kwargs))
        return cast(F, idempotent)
    return decorate


def _in_thread(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(handler, *args, **kwargs)
    return run


async def _once(store: IdempotencyStore, slot: Hashable, ttl: float,
                run: Callable[[], Awaitable[Any]]) -> BaseResponse:
    """The response stored for ``slot``, else ``run()``'s (stored for ``ttl``)."""
    while True:
        stored = store.get(slot, _MISSING)
        if stored is not _MISSING:
            return _copy(stored, replayed=True)
        running = store._running.get(slot)
        if running is None:
            break
        await running.wait()  # then look again: stored, or the first one failed
    done = store._running[slot] = asyncio.Event()
    try:
        response = to_response(await run())
        if not isinstance(response, StreamResponse):
            store.set(slot, _copy(response), ttl)  # a private snapshot, before any hook runs
        return response
    finally:
        del store._running[slot]
        done.set()


def _copy(response: BaseResponse, replayed: bool = False) -> BaseResponse:
    """A copy of ``response`` whose headers and cookies can change independently."""
    clone = copy.copy(response)
    clone.headers = dict(response.headers)
    if response._cookies is not None:
        clone._cookies = list(response._cookies)
    if replayed:
        clone.headers[REPLAYED_HEADER] = "true"
    return clone


def remember_idempotency(key: Hashable, value: Any, ttl_seconds: float = 60.0) -> None:
    """Store ``value`` under ``key`` in the default store for ``ttl_seconds``."""
    _DEFAULT_STORE.set(key, value, ttl_seconds)


def get_idempotent(key: Hashable) -> Any | None:
    """The value remembered under ``key``; None if missing or expired."""
    return _DEFAULT_STORE.get(key)
