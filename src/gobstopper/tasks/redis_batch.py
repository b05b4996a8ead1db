"""Group the Redis backend's script calls: one ``EVALSHA`` per batch.

The Redis counterpart of the storage gateway's group commit. Script calls
made while a batch is in flight (or in the same event-loop turn) go out
together in the next batch, as *one* command: ``BATCH`` (``redis_records``)
runs each call's script in turn, under ``pcall``, and returns a reply per
call. Each call stays atomic on its own and a failing call fails alone; the
batch is not a transaction.

PERF: the calls travel as one JSON argument and their replies come back as
one JSON string, both handled by msgspec in C. Sent as a pipeline of one
``EVALSHA`` per call, redis-py packed every argument and parsed every reply in
Python (each with an asyncio timeout): ``add_task`` cost 46 µs of CPU with 64
concurrent callers, 17-20 µs batched this way (docs/tasks.md#performance).
The batches go out on a connection the batcher keeps, not through the
client's command path (pool checkout, retry wrapper, ``Script``'s NOSCRIPT
handling): less CPU per task with 1 concurrent caller (227-285 -> 183-218
µs, interleaved runs) and with 8 (42-67 -> 34-56), the same with 64.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection
    from redis.commands.core import AsyncScript

Call = tuple[str, list[str], list[str], asyncio.Future[Any]]

#: Most calls in one EVALSHA: Redis runs a script alone, so a bounded batch
#: bounds how long other clients wait behind it.
MAX_CALLS = 256

_encode = msgspec.json.Encoder().encode
_decode_replies = msgspec.json.Decoder(list[tuple[int, Any]]).decode


class ScriptBatcher:
    """Send script calls in batches of one ``EVALSHA``, at most one in flight.

    ``batch`` is the registered ``BATCH`` script; a call names one of the
    scripts it holds.
    """

    def __init__(self, batch: AsyncScript) -> None:
        from redis.asyncio import Redis  # loaded by the client already; not at import

        client = batch.registered_client
        if not isinstance(client, Redis):
            raise TypeError("ScriptBatcher needs a redis.asyncio.Redis client, not a cluster")
        self._script = batch
        self._pool = client.connection_pool
        #: The pool connection batches are sent on, taken at the first batch.
        self._connection: AbstractConnection | None = None
        self._pending: list[Call] = []
        self._sender: asyncio.Task[None] | None = None

    def call(self, name: str, keys: list[str], args: list[str]) -> asyncio.Future[Any]:
        """Queue script ``name`` with ``keys`` and ``args``; the future gets its reply.

        Arguments are strings, as ``EVALSHA`` would pass them (``repr`` a number).
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((name, keys, args, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return future

    async def _send(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_CALLS]
                del self._pending[:MAX_CALLS]
                await self._send_batch(batch)
        finally:
            self._sender = None

    async def _send_batch(self, batch: list[Call]) -> None:
        payload = _encode([(name, keys, args) for name, keys, args, _ in batch])
        try:
            replies = await self._evalsha(payload)
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), (ok, reply) in zip(batch, _decode_replies(replies), strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(reply)
            else:
                future.set_exception(ResponseError(reply))

    async def _evalsha(self, payload: bytes) -> Any:
        """The ``BATCH`` script's reply to ``payload``.

        Tried a second time, as redis-py's own retry would, after NOSCRIPT (the
        script is loaded first: the server's cache was flushed or it restarted)
        or after the kept connection failed (a new one is taken).
        """
        try:
            return await self._round_trip(payload)
        except NoScriptError:
            await self._script.registered_client.script_load(self._script.script)
        except (RedisConnectionError, RedisTimeoutError):
            pass
        return await self._round_trip(payload)

    async def _round_trip(self, payload: bytes) -> Any:
        connection = self._connection
        if connection is None:
            connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
            self._connection = connection
        try:
            await connection.send_packed_command(
                connection.pack_command("EVALSHA", self._script.sha, 0, payload)
            )
            return await connection.read_response()
        except ResponseError:
            raise  # an error reply: the connection is fine
        except BaseException:
            # Anything else (a dead socket, a timeout, a cancelled read) leaves the
            # connection in an unknown state: disconnect it and take another next time.
            self._connection = None
            await connection.disconnect(nowait=True)
            await self._pool.release(connection)
            raise

    async def drain(self) -> None:
        """Wait until every queued call has been sent and answered."""
        while self._sender is not None:
            await asyncio.shield(self._sender)

    async def close(self) -> None:
        """Send what is queued, then give the kept connection back to the pool."""
        await self.drain()
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool.release(connection)
