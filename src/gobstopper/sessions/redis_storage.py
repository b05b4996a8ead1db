"""Session storage in Redis, for apps running several workers or hosts.

Each session is one key, ``key_prefix + session_digest(session_id)`` (the id's
SHA-256 hex digest: any str id is safe, and keys do not reveal ids), holding the
session's JSON and an expiry set by Redis (``SET ... EX ttl``), so Redis itself
removes expired sessions and :meth:`cleanup` has nothing to do. Expiry counts from
the last save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from gobstopper.logs import logger_named
from gobstopper.service_checks import ServiceCheck, redis_address
from gobstopper.sessions.storage import (
    DEFAULT_TTL,
    AsyncBaseSessionStorage,
    _check_ttl,
    _decode_data,
    _encode_data,
    session_digest,
)

if TYPE_CHECKING:
    import logging

    from redis.asyncio import Redis


class AsyncRedisSessionStorage(AsyncBaseSessionStorage):
    """Sessions in Redis through a ``redis.asyncio.Redis`` client you create and close.

    The client may use ``decode_responses`` either way. Redis errors (connection
    lost, ...) propagate: a session store that is down is not an empty one.
    """

    def __init__(self, client: Redis, key_prefix: str = "session:", ttl: int = DEFAULT_TTL) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.ttl = _check_ttl(ttl)

    def service_checks(self) -> list[ServiceCheck]:
        """The Redis server this storage needs, for the app's startup check."""
        return [
            ServiceCheck(
                f"Redis session storage at {redis_address(self.client)}",
                self.client.ping,
                "sessions load empty and unsafe requests checked for CSRF are answered 503 "
                "until it is back",
            )
        ]

    def _key(self, session_id: str) -> str:
        return self.key_prefix + session_digest(session_id)

    async def load(self, session_id: str) -> dict[str, Any] | None:
        key = self._key(session_id)
        try:
            raw = await self.client.get(key)  # decode_responses=True fails here on non-UTF-8
            return None if raw is None else _decode_data(raw)
        except (UnicodeDecodeError, msgspec.DecodeError) as exc:
            _logger().warning("ignoring corrupt session %s: %s", key, exc)
            return None

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        key = self._key(session_id)
        await self.client.set(key, _encode_data(data), ex=self.ttl)

    async def delete(self, session_id: str) -> None:
        await self.client.delete(self._key(session_id))


def _logger() -> logging.Logger:
    return logger_named("gobstopper.sessions")
