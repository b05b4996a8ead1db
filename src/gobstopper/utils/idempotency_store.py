"""Where idempotent results live: the contract a store keeps, and the in-memory store.

``@use_idempotency`` talks to a store through four coroutines, so one process (this
module's ``IdempotencyStore``) and many (``RedisIdempotencyStore``) follow the same
steps: look for a stored ``result``; else ``claim`` the slot (only one caller at a time
holds it) and run the handler; then ``complete`` (store the record, drop the claim) or
``release`` (a failure is not a result); callers that lost the claim ``wait`` for it to
end and look again. A claim is a lease: if its holder dies, it ends by itself.
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Protocol, runtime_checkable

#: Most entries the in-memory store keeps; beyond it the oldest are evicted.
MAX_ENTRIES = 10_000
#: Most bytes of values the in-memory store keeps (bodies of stored responses).
MAX_BYTES = 32 * 1024 * 1024
#: Most expired entries dropped per store write (amortised O(1), no long pause).
SWEEP_BATCH = 8


@runtime_checkable
class IdempotencyBackend(Protocol):
    """The steps ``@use_idempotency`` takes with a store, keyed by an opaque slot."""

    async def result(self, slot: str) -> bytes | None:
        """The record stored for ``slot``, or None."""

    async def claim(self, slot: str, lease_seconds: float) -> bool:
        """Take the slot for one caller; False if another holds it."""

    async def wait(self, slot: str, lease_seconds: float) -> None:
        """Return once the slot's claim has ended (completed, released or expired)."""

    async def complete(self, slot: str, record: bytes, ttl_seconds: float) -> None:
        """Store ``record`` for ``ttl_seconds`` and end the claim."""

    async def release(self, slot: str) -> None:
        """End the claim without storing anything."""


def checked_ttl(ttl_seconds: float, name: str = "ttl_seconds") -> float:
    """Return ``ttl_seconds`` if it is a positive finite number, else raise ValueError."""
    if (
        isinstance(ttl_seconds, bool)
        or not isinstance(ttl_seconds, (int, float))
        or not (math.isfinite(ttl_seconds) and ttl_seconds > 0)
    ):
        raise ValueError(f"{name} must be a positive finite number, got {ttl_seconds!r}")
    return ttl_seconds


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int of at least 1, got {value!r}")
    return value


def _size_of(value: Any) -> int:
    """Bytes a value is charged for: its length for bytes/str, else its shallow size."""
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    return sys.getsizeof(value)


class IdempotencyStore:
    """Values by key in this process, each with its own time to live.

    Bounded twice: at most ``max_entries`` values and ``max_bytes`` of them (a stored
    response is charged its encoded size; other values their shallow ``getsizeof``);
    past either bound the oldest are evicted first. Thread-safe for ``get``/``set``;
    claims belong to one event loop. ``clock`` (seconds, monotonic) is injectable.
    """

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        *,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = _positive_int(max_entries, "max_entries")
        self.max_bytes = _positive_int(max_bytes, "max_bytes")
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, int, Any]] = OrderedDict()
        self._bytes = 0
        self._claims: dict[str, asyncio.Event] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many entries are held (expired ones not yet dropped included)."""
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Bytes the held values are charged for."""
        return self._bytes

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` if missing or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return default
            if entry[0] <= self._clock():
                self._drop(key)
                return default
            return entry[2]

    def set(self, key: Hashable, value: Any, ttl_seconds: float = 60.0) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``, replacing any previous one.

        A value larger than ``max_bytes`` on its own is not stored.
        """
        ttl = checked_ttl(ttl_seconds)
        size = _size_of(value)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if size > self.max_bytes:
                return
            now = self._clock()
            self._entries[key] = (now + ttl, size, value)
            self._bytes += size
            self._drop_old(now)

    def _drop(self, key: Hashable) -> None:
        self._bytes -= self._entries.pop(key)[1]

    def _drop_old(self, now: float) -> None:
        """Drop up to SWEEP_BATCH expired entries from the oldest end, then any excess."""
        entries = self._entries
        for _ in range(SWEEP_BATCH):
            if not entries:
                break
            oldest = next(iter(entries))
            if entries[oldest][0] > now:
                break
            self._drop(oldest)
        while len(entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(entries)))

    # -- the IdempotencyBackend steps ------------------------------------------------
    async def result(self, slot: str) -> bytes | None:
        """The record stored for ``slot``, or None."""
        value = self.get(slot)
        return value if isinstance(value, bytes) else None

    async def claim(self, slot: str, lease_seconds: float) -> bool:
        """Take the slot unless a request of this process holds it (no lease needed:
        a holder in this process always completes or releases)."""
        if slot in self._claims:
            return False
        self._claims[slot] = asyncio.Event()
        return True

    async def wait(self, slot: str, lease_seconds: float) -> None:
        """Return once the slot's current claim has ended."""
        claim = self._claims.get(slot)
        if claim is not None:
            await claim.wait()

    async def complete(self, slot: str, record: bytes, ttl_seconds: float) -> None:
        """Store ``record`` for ``ttl_seconds`` and end the claim."""
        self.set(slot, record, ttl_seconds)
        await self.release(slot)

    async def release(self, slot: str) -> None:
        """End the claim; its waiters look again."""
        claim = self._claims.pop(slot, None)
        if claim is not None:
            claim.set()
