"""WebSocketManager: rooms, concurrent broadcasts, dropping, backplanes, shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest

from gobstopper import Gobstopper
from gobstopper.testing import AsyncTestClient, TestClient
from gobstopper.websocket import Backplane, InProcessBackplane, WebSocketManager
from tests.websocket.room_app import room_app


# -- bookkeeping ---------------------------------------------------------------------
def test_rooms_and_memberships_bookkeeping():
    manager = WebSocketManager()
    a, b = object(), object()
    manager.add_connection("a", a)  # type: ignore[arg-type]
    manager.add_connection("b", b)  # type: ignore[arg-type]
    manager.join_room("a", "lobby")
    manager.join_room("a", "lobby")  # no additional effect
    manager.join_room("a", "vip")
    manager.join_room("b", "lobby")
    manager.join_room("ghost", "lobby")  # unknown connection: ignored
    assert manager.get_room_connections("lobby") == {"a", "b"}
    assert manager.get_connection_rooms("a") == {"lobby", "vip"}
    copy = manager.get_room_connections("lobby")
    copy.add("x")
    assert manager.get_room_connections("lobby") == {"a", "b"}  # a copy was returned
    manager.leave_room("a", "vip")
    manager.leave_room("a", "vip")  # idempotent
    manager.leave_room("a", "never")
    assert manager.get_connection_rooms("a") == {"lobby"}
    assert "vip" not in manager.rooms  # empty rooms are dropped
    manager.remove_connection("a")
    manager.remove_connection("a")
    assert manager.connections == {"b": b}
    assert manager.rooms == {"lobby": {"b"}}
    assert manager.get_connection_rooms("a") == set()
    assert manager.get_room_connections("nowhere") == set()
    assert "connections=1" in repr(manager)


def test_constructor_and_message_validation():
    with pytest.raises(ValueError):
        WebSocketManager(send_timeout=0)
    manager = WebSocketManager()
    assert isinstance(manager.backplane, InProcessBackplane)
    assert isinstance(manager.backplane, Backplane)
    with pytest.raises(TypeError):
        asyncio.run(manager.broadcast_to_room("x", {"not": "text"}))  # type: ignore[arg-type]


# -- broadcasting --------------------------------------------------------------------
def test_room_broadcast_reaches_members_only_and_broadcast_to_all_reaches_everyone():
    manager = WebSocketManager()
    app = room_app(manager)
    with TestClient(app) as client:
        sessions = {
            name: client.websocket_connect(f"/join?id={name}&rooms={rooms}")
            for name, rooms in (("a", "red"), ("b", "red,blue"), ("c", ""))
        }
        for ws in sessions.values():
            assert ws.receive_text() == "joined"
        client.run(manager.broadcast_to_room("red", "to red"))
        client.run(manager.broadcast_to_room("blue", b"\x00blue"))
        client.run(manager.broadcast_to_all("to all"))
        assert [sessions["a"].receive_text(), sessions["a"].receive_text()] == ["to red", "to all"]
        assert sessions["b"].receive_text() == "to red"
        assert sessions["b"].receive_bytes() == b"\x00blue"
        assert sessions["b"].receive_text() == "to all"
        assert sessions["c"].receive_text() == "to all"
        sessions["c"].send_text("red")  # the handler broadcasts to room "red"
        assert sessions["a"].receive_text() == "c says hi"
        assert sessions["b"].receive_text() == "c says hi"
        for ws in sessions.values():
            ws.close()
    assert manager.connections == {} and manager.rooms == {}


def test_a_broadcast_drops_connections_that_are_gone():
    manager = WebSocketManager()
    app = room_app(manager)
    with TestClient(app) as client:
        alive = client.websocket_connect("/join?id=alive&rooms=r")
        gone = client.websocket_connect("/join?id=gone&rooms=r")
        assert alive.receive_text() == gone.receive_text() == "joined"
        # A connection whose peer vanished but which is still registered:
        stale = manager.connections["gone"]
        gone.close()
        manager.add_connection("gone", stale)
        manager.join_room("gone", "r")
        client.run(manager.broadcast_to_room("r", "still there?"))
        assert alive.receive_text() == "still there?"
        assert manager.get_room_connections("r") == {"alive"}
        alive.close()


async def test_200_clients_get_every_broadcast_in_order_while_one_never_reads():
    """One member stops reading: it is dropped after send_timeout; the rest finish."""
    send_timeout = 0.5
    manager = WebSocketManager(send_timeout=send_timeout)
    app = room_app(manager)
    count = 20
    async with AsyncTestClient(app) as client:
        readers = [await client.websocket_connect(f"/join?id=r{i}&rooms=lobby") for i in range(200)]
        # Its app-side sends block once 2 messages are unread, like a full socket.
        stuck = await client.websocket_connect("/join?id=stuck&rooms=lobby", max_queue=2)
        for ws in readers:
            assert await ws.receive_text() == "joined"
        assert len(manager.get_room_connections("lobby")) == 201

        started = time.monotonic()
        for i in range(count):
            await manager.broadcast_to_room("lobby", f"message {i}")
        elapsed = time.monotonic() - started
        # One timeout for the stuck member, then the rest go through unhindered.
        assert elapsed < send_timeout + 3.0, elapsed
        assert "stuck" not in manager.connections
        assert len(manager.get_room_connections("lobby")) == 200

        for ws in readers:
            got = [await ws.receive_text() for _ in range(count)]
            assert got == [f"message {i}" for i in range(count)]
        assert await stuck.receive_text() == "joined"
        assert await stuck.wait_closed() == 1008  # the drop woke and closed its handler
        for ws in readers:
            await ws.close()
        await stuck.close()
    assert manager.connections == {}


# -- backplanes ------------------------------------------------------------------------
class HubBackplane:
    """A stand-in for Redis pub/sub: every attached manager gets every message."""

    hub: list = []

    def __init__(self, published: list) -> None:
        self.published = published

    def attach(self, deliver):
        self.hub.append(deliver)

    async def publish(self, room, message):
        self.published.append((room, message))
        await asyncio.gather(*(deliver(room, message) for deliver in self.hub))

    async def close(self):
        self.published.append("closed")


async def test_a_backplane_carries_broadcasts_between_managers_without_changing_callers():
    HubBackplane.hub = []
    published: list = []
    first = WebSocketManager(backplane=HubBackplane(published))
    second = WebSocketManager(backplane=HubBackplane(published))
    async with AsyncTestClient(room_app(first)) as one, AsyncTestClient(room_app(second)) as two:
        a = await one.websocket_connect("/join?id=a&rooms=news")
        b = await two.websocket_connect("/join?id=b&rooms=news")
        assert await a.receive_text() == await b.receive_text() == "joined"
        await a.send_text("news")  # app one's handler broadcasts to room "news"
        assert await a.receive_text() == "a says hi"
        assert await b.receive_text() == "a says hi"  # delivered by the other manager
        assert published == [("news", "a says hi")]
        await first.close_all()
        await second.close_all()
        assert await a.wait_closed() == await b.wait_closed() == 1001
        await a.close()
        await b.close()
    assert published[-2:] == ["closed", "closed"]  # close_all() closed both backplanes


# -- shutdown --------------------------------------------------------------------------
def test_close_all_closes_every_connection_with_1001():
    manager = WebSocketManager()
    app = room_app(manager)
    with TestClient(app) as client:
        sessions = [client.websocket_connect(f"/join?id={i}&rooms=x") for i in range(3)]
        for ws in sessions:
            assert ws.receive_text() == "joined"
        client.run(manager.close_all())
        assert [ws.wait_closed() for ws in sessions] == [1001, 1001, 1001]
        assert manager.connections == {} and manager.rooms == {}
        with pytest.raises(ValueError):
            client.run(manager.close_all(999))


def test_app_shutdown_closes_the_app_websocket_manager():
    app = Gobstopper(__name__)
    manager = app.websocket_manager

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()
        manager.add_connection("only", websocket)
        await websocket.send_text("in")
        async for _ in websocket:
            pass

    client = TestClient(app)
    with client:
        ws = client.websocket_connect("/ws")
        assert ws.receive_text() == "in"
        client.run(app.shutdown(timeout=1))
        assert ws.wait_closed() == 1001
        assert manager.connections == {}
