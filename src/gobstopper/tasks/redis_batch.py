"""Group the Redis backend's script calls into pipelines.

The Redis counterpart of the storage gateway's group commit: script calls
made while a pipeline is in flight (or in the same event-loop turn) go out
together in the next one, one round trip for all of them. Each script call
is atomic on its own; the pipeline is not a transaction.

PERF: 64 concurrent ``add_task`` calls cost one round trip, not 64.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

Call = tuple["AsyncScript", list[str], list[Any], asyncio.Future[Any]]


class ScriptBatcher:
    """Send script calls in pipelines, at most one pipeline in flight."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._pending: list[Call] = []
        self._sender: asyncio.Task[None] | None = None

    def call(self, script: AsyncScript, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Queue ``script(keys, args)``; the future gets its reply."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((script, keys, args, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return future

    async def _send(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._send_batch(batch)
        finally:
            self._sender = None

    async def _send_batch(self, batch: list[Call]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            await script(keys=keys, args=args, client=pipe)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def drain(self) -> None:
        """Wait until every queued call has been sent and answered."""
        while self._sender is not None:
            await asyncio.shield(self._sender)
