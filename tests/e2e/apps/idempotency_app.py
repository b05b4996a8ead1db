"""A payment endpoint behind ``@use_idempotency``, served by Granian in
tests/e2e/test_idempotency.py.

With ``$REDIS_URL`` set, keys live in Redis (``RedisIdempotencyStore``) and every
handler run is counted there, so servers sharing that Redis can be checked for
"once in total"; otherwise the in-memory store and an in-process count are used.
"""

from __future__ import annotations

import asyncio
import os

import msgspec
from redis.asyncio import Redis

from gobstopper import Gobstopper, JSONResponse
from gobstopper.utils.idempotency import IdempotencyStore, use_idempotency
from gobstopper.utils.redis_idempotency import RedisIdempotencyStore

REDIS_URL = os.environ.get("REDIS_URL")
client = Redis.from_url(REDIS_URL) if REDIS_URL else None
store = RedisIdempotencyStore(client) if client else IdempotencyStore()
runs = 0

app = Gobstopper(__name__)


class Charge(msgspec.Struct):
    amount: int


async def count_run() -> int:
    """This run's number, counted across every server sharing the store."""
    global runs
    if client is not None:
        return int(await client.incr("e2e:charge-runs"))
    runs += 1
    return runs


@app.post("/charge")
@use_idempotency(ttl_seconds=60, store=store)
async def charge(request, charge: Charge):
    number = await count_run()
    await asyncio.sleep(0.2)  # long enough for concurrent duplicates to overlap
    response = JSONResponse(
        {"run": number, "amount": charge.amount, "caller": request.headers.get("authorization", "")}
    )
    response.set_cookie("receipt", str(number), secure=False)
    return response


@app.get("/runs")
async def total_runs(request):
    if client is not None:
        return {"runs": int(await client.get("e2e:charge-runs") or 0)}
    return {"runs": runs}


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}
