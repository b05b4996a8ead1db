"""Room broadcasts across workers and machines through Redis pub/sub.

Every process gives its ``WebSocketManager`` a ``RedisBackplane`` on the same
Redis server and channel. ``publish`` sends an envelope (room, message) with
PUBLISH; each backplane's listener task reads the channel and calls its
manager's ``deliver``, so every process, the publisher's own included, sends
the message to its local members exactly once, in the order Redis received it.

Pub/sub keeps nothing: a process that is disconnected (a Redis restart, a
network cut, a subscriber so slow that Redis drops it) misses what is published
meanwhile. The listener reconnects by itself with exponential backoff (capped
at ``MAX_BACKOFF`` seconds) and logs one warning per outage.

A broadcast returns once Redis accepted the message, not once local members
have it: local delivery happens in the listener, like everywhere else.

Envelopes are JSON arrays (``["t", room, text]`` or ``["b", room, base64]``):
always valid UTF-8, so clients with ``decode_responses=True`` read them too,
and a ``bytes`` message comes back as ``bytes``. Anything else on the channel
is logged and skipped. With ``decode_responses=True`` redis-py cannot read a
payload that is not UTF-8 at all, and its connection stays stuck on it; the
listener then subscribes afresh, losing what was in flight.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any

import msgspec

from gobstopper.service_checks import redis_address

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

    from gobstopper.websocket.backplane import Deliver

logger = logging.getLogger("gobstopper.websocket")

#: Default pub/sub channel; processes that share it share their broadcasts.
DEFAULT_CHANNEL = "gobstopper:ws"
#: Seconds before the first reconnection attempt; doubled per failure up to ``MAX_BACKOFF``.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
#: Seconds ``publish`` waits for the first subscription, so a process's own first
#: broadcasts are not published before it listens.
SUBSCRIBE_WAIT = 5.0
#: Seconds ``close`` gives UNSUBSCRIBE before closing the connection regardless.
UNSUBSCRIBE_WAIT = 1.0


class _Text(msgspec.Struct, array_like=True, forbid_unknown_fields=True, tag="t"):
    room: str | None
    message: str


class _Binary(msgspec.Struct, array_like=True, forbid_unknown_fields=True, tag="b"):
    room: str | None
    message: bytes


_decode = msgspec.json.Decoder(_Text | _Binary).decode
_encode = msgspec.json.Encoder().encode


class RedisBackplane:
    """A ``Backplane`` carrying broadcasts between processes over a Redis channel.

    ``client`` is a ``redis.asyncio.Redis`` (``decode_responses`` on or off); it
    stays the caller's to close. The backplane subscribes through one pub/sub
    connection of it, opened by ``attach``, and releases that in ``close``.
    """

    def __init__(self, client: Redis, channel: str = DEFAULT_CHANNEL) -> None:
        self.client = client
        self.channel = channel
        self._task: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._subscribed: asyncio.Event | None = None
        self._closed = False

    def attach(self, deliver: Deliver) -> None:
        """Start the listener task that subscribes and delivers (needs a running loop)."""
        if self._subscribed is not None:
            raise RuntimeError("RedisBackplane.attach() called twice")
        self._subscribed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._listen(deliver, self._subscribed), name=f"RedisBackplane({self.channel!r})"
        )

    async def ready(self, timeout: float = SUBSCRIBE_WAIT) -> bool:
        """Wait until the listener is subscribed; False (and a warning) after ``timeout``.

        A backplane that is not ready keeps trying in the background; until Redis
        is reachable, broadcasts (local ones too: they travel through Redis) fail.
        """
        if self._subscribed is None:
            raise RuntimeError("RedisBackplane.ready() before attach()")
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except TimeoutError:
            logger.warning(
                "Redis backplane could not subscribe to %r on %s within %gs: "
                "broadcasts from other processes are lost until it does",
                self.channel,
                redis_address(self.client),
                timeout,
            )
            return False
        return True

    async def publish(self, room: str | None, message: str | bytes) -> None:
        """PUBLISH ``message`` for ``room`` (``None``: everyone) to every process.

        Returns once Redis accepted it; Redis errors (server unreachable) propagate.
        """
        if self._subscribed is None:
            raise RuntimeError("RedisBackplane.publish() before attach()")
        if not self._closed and not self._subscribed.is_set():
            try:
                await asyncio.wait_for(self._subscribed.wait(), SUBSCRIBE_WAIT)
            except TimeoutError:
                pass  # Redis is likely down: PUBLISH reports it
        envelope = _Text(room, message) if isinstance(message, str) else _Binary(room, message)
        await self.client.publish(self.channel, _encode(envelope))

    async def close(self) -> None:
        """Stop the listener, unsubscribe and close the pub/sub connection (idempotent)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is None:
            return
        connection = pubsub.connection
        if connection is not None and connection.is_connected:
            try:
                await asyncio.wait_for(pubsub.unsubscribe(), UNSUBSCRIBE_WAIT)
            except Exception as exc:  # the connection is closed next anyway
                logger.debug("UNSUBSCRIBE from %r failed: %r", self.channel, exc)
        await pubsub.aclose()

    # -- the listener -------------------------------------------------------------
    async def _listen(self, deliver: Deliver, subscribed: asyncio.Event) -> None:
        """Subscribe, then deliver each message in order; resubscribe after errors."""
        failures = 0
        while True:
            try:
                self._pubsub = self.client.pubsub()
                await self._pubsub.subscribe(self.channel)
                while True:
                    item = await self._pubsub.get_message(timeout=None)
                    if item is None:
                        continue
                    if item["type"] == "subscribe":
                        if failures:
                            logger.info(
                                "Redis backplane resubscribed to %r after %d failed attempts",
                                self.channel,
                                failures,
                            )
                            failures = 0
                        subscribed.set()
                    elif item["type"] == "message":
                        await self._handle(item["data"], deliver)
            except UnicodeDecodeError:
                # decode_responses=True and a payload that is not UTF-8: the client's
                # parser retries the same bytes forever, so start a new connection.
                logger.warning(
                    "skipped a payload on %r that is not UTF-8; resubscribing", self.channel
                )
                await self._drop_pubsub()
            except Exception as exc:
                await self._drop_pubsub()
                failures += 1
                if failures == 1:
                    logger.warning(
                        "Redis backplane lost its subscription to %r (%r); "
                        "reconnecting, broadcasts meanwhile are lost",
                        self.channel,
                        exc,
                    )
                else:
                    logger.debug("Redis backplane reconnect attempt %d failed: %r", failures, exc)
                delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 1))
                await asyncio.sleep(random.uniform(delay / 2, delay))

    async def _handle(self, payload: Any, deliver: Deliver) -> None:
        """Decode one envelope and deliver it; junk and delivery errors are logged."""
        try:
            envelope = _decode(payload)
        except msgspec.DecodeError as exc:
            logger.warning(
                "skipped a malformed payload on %r (%s): %.100r", self.channel, exc, payload
            )
            return
        try:
            await deliver(envelope.room, envelope.message)
        except Exception:
            logger.exception("delivering a broadcast to room %r failed", envelope.room)

    async def _drop_pubsub(self) -> None:
        """Close the current pub/sub connection without waiting for the peer."""
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception as exc:
                logger.debug("closing a broken pub/sub connection failed: %r", exc)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "attached" if self._task else "detached"
        return f"<RedisBackplane channel={self.channel!r} {state}>"
