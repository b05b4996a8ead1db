"""Idempotent results kept in Redis, so every worker and machine honours one key once.

``RedisIdempotencyStore`` is an ``IdempotencyBackend`` for ``@use_idempotency(store=...)``.
A claim is ``SET <prefix>lock:<slot> <token> NX PX <lease>``: exactly one request in
the whole deployment holds it, and it ends by itself if that request's process dies.
The result is stored with its TTL and the claim dropped in one Lua script, which
checks the token, so a holder whose lease already passed to another never deletes
that other's claim. Waiters poll (1 ms doubling to ``max_poll_seconds``) until the
claim ends, then read the result or claim the slot themselves.

Idempotency cannot fail open (running a payment twice is the failure it exists to
prevent): when Redis cannot be reached, the request is answered 503.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gobstopper.http.errors import ServiceUnavailable
from gobstopper.service_checks import ServiceCheck, redis_address
from gobstopper.utils.idempotency_store import checked_ttl

if TYPE_CHECKING:
    from redis.asyncio import Redis

T = TypeVar("T")

# KEYS: result, lock. ARGV: record, ttl in ms, this holder's token.
_COMPLETE = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""
# KEYS: lock. ARGV: this holder's token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisIdempotencyStore:
    """Idempotency claims and results in Redis under ``prefix``.

    ``client`` is a ``redis.asyncio.Redis`` (``decode_responses`` on or off); it is
    the caller's to close. ``max_poll_seconds`` caps the wait between two looks of a
    request waiting for another's result.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "gobstopper:idempotency:",
        max_poll_seconds: float = 0.05,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.max_poll_seconds = checked_ttl(max_poll_seconds, "max_poll_seconds")
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._tokens: dict[str, str] = {}  # slot -> token of the claim this process holds

    def service_checks(self) -> list[ServiceCheck]:
        """The Redis server this store needs, for the app's startup check."""
        return [
            ServiceCheck(
                f"Redis idempotency store at {redis_address(self.client)}",
                self.client.ping,
                "requests with an Idempotency-Key are answered 503 until it is back",
            )
        ]

    def _keys(self, slot: str) -> tuple[str, str]:
        return f"{self.prefix}result:{slot}", f"{self.prefix}lock:{slot}"

    async def result(self, slot: str) -> bytes | None:
        """The record stored for ``slot``, or None."""
        value = await _reachable(self.client.get(self._keys(slot)[0]))
        return None if value is None else base64.b64decode(value)

    async def claim(self, slot: str, lease_seconds: float) -> bool:
        """``SET NX PX``: True if this request now holds the slot for the lease."""
        token = secrets.token_hex(16)
        lease_ms = max(1, int(lease_seconds * 1000))
        taken = await _reachable(self.client.set(self._keys(slot)[1], token, nx=True, px=lease_ms))
        if taken:
            self._tokens[slot] = token
        return bool(taken)

    async def wait(self, slot: str, lease_seconds: float) -> None:
        """Poll until the claim is gone (completed, released or its lease ran out)."""
        lock = self._keys(slot)[1]
        delay = 0.001
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lease_seconds
        while await _reachable(self.client.exists(lock)) and loop.time() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_poll_seconds)

    async def complete(self, slot: str, record: bytes, ttl_seconds: float) -> None:
        """Store ``record`` for ``ttl_seconds`` and drop this request's claim."""
        token = self._tokens.pop(slot, "")
        ttl_ms = max(1, int(checked_ttl(ttl_seconds) * 1000))
        # Base64 text, so clients with decode_responses=True read it back intact.
        await _reachable(
            self._complete(
                keys=list(self._keys(slot)), args=[base64.b64encode(record), ttl_ms, token]
            )
        )

    async def release(self, slot: str) -> None:
        """Drop this request's claim without storing anything."""
        token = self._tokens.pop(slot, "")
        await _reachable(self._release(keys=[self._keys(slot)[1]], args=[token]))


async def _reachable(call: Awaitable[T]) -> T:
    """Await a Redis call; an unreachable server is a 503, not a second run."""
    try:
        return await call
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise ServiceUnavailable("Idempotency store unavailable; retry later") from exc
