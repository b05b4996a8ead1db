"""Rooms across two freshly started servers sharing one Redis: ready from the first message."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.servers import granian_server

pytestmark = pytest.mark.e2e


async def test_the_first_broadcast_after_a_deploy_reaches_the_other_server(
    tmp_path, redis_url, redis_client
):
    env = {"REDIS_URL": redis_url, "ROOMS_CHANNEL": f"e2e:rooms:{uuid.uuid4().hex}"}
    with (
        granian_server("rooms_app:app", tmp_path, env=env) as a,
        granian_server("rooms_app:app", tmp_path, env=env) as b,
    ):
        async with httpx.AsyncClient() as client:
            for server in (a, b):  # an answer means the worker finished its startup
                assert (await client.get(f"{server.url}/nothing", timeout=10)).status_code == 404
        # Both already listen, before any WebSocket opened: no broadcast can be missed.
        [(_, listeners)] = await redis_client.pubsub_numsub(env["ROOMS_CHANNEL"])
        assert listeners == 2
        async with connect(f"{b.ws_url}/join/lobby", open_timeout=10) as member:
            assert (await member.recv()).startswith("joined")
            async with httpx.AsyncClient() as client:
                sent = await client.post(f"{a.url}/say/lobby", content=b"first!", timeout=10)
            assert sent.status_code == 200
            assert await asyncio.wait_for(member.recv(), 5) == "first!"
