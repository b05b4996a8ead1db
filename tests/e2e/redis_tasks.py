"""What the Redis task backend of the e2e servers still holds, read from redis-server."""

from __future__ import annotations

from typing import Any

from gobstopper.tasks.redis_records import RedisKeys
from tests.polling import wait_for


async def wait_until_drained(client: Any, prefix: str, category: str, deadline: float) -> None:
    """Wait until no message of ``category`` is left to deliver under ``prefix``.

    A finished task's message is acknowledged and deleted from its stream, so
    once every stream of the category and the delayed set are empty, no task
    can be delivered (and run) again: run counts read after the servers stop
    are final, with no grace period to guess.
    """
    keys = RedisKeys(prefix)

    async def undelivered() -> int:
        lengths = [await client.xlen(stream) for stream in keys.streams(category)]
        return sum(lengths) + int(await client.zcard(keys.delayed))

    await wait_for(undelivered, lambda left: left == 0, f"{category!r} to drain", deadline)
