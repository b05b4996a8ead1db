"""WebSocket against stub RSGI protocols: stuck, failing and vanishing transports."""

from __future__ import annotations

import asyncio

import pytest

from gobstopper.testing import FakeHeaders, FakeScope
from gobstopper.websocket import ConnectionClosed, WebSocket


class StuckTransport:
    """A transport whose receive never returns (Granian's, behind a stuck send)."""

    def __init__(self, fail_send: bool = False, fail_receive: bool = False) -> None:
        self.fail_send = fail_send
        self.fail_receive = fail_receive
        self.sent: list[object] = []
        self.receiving = asyncio.Event()  # set once a receive() is blocked in here

    async def receive(self):
        if self.fail_receive:
            raise RuntimeError("RSGI transport is closed")
        self.receiving.set()
        await asyncio.Event().wait()

    async def send_str(self, data):
        if self.fail_send:
            raise RuntimeError("RSGI protocol error")
        self.sent.append(data)

    async def send_bytes(self, data):
        await self.send_str(data)


class StubProtocol:
    def __init__(self, transport=None, fail_accept: bool = False) -> None:
        self.transport = transport or StuckTransport()
        self.fail_accept = fail_accept
        self.closes: list[int | None] = []

    async def accept(self):
        if self.fail_accept:
            raise RuntimeError("RSGI protocol error")
        return self.transport

    def close(self, status=None):
        self.closes.append(status)


def make(proto: StubProtocol) -> WebSocket:
    scope = FakeScope("GET", "/ws", "", FakeHeaders([]), proto="ws")
    return WebSocket(scope, proto, max_message_bytes=1024, send_chunk_bytes=64)


async def test_close_from_another_task_wakes_a_stuck_receive():
    proto = StubProtocol()
    ws = make(proto)
    await ws.accept()
    receiving = asyncio.ensure_future(ws.receive())
    await asyncio.wait_for(proto.transport.receiving.wait(), 5)
    await ws.close(4003, "slow")
    message = await asyncio.wait_for(receiving, 2)
    assert (message.type, message.code, message.reason) == ("close", 4003, "slow")
    assert proto.closes == [4003]
    with pytest.raises(ConnectionClosed):
        await ws.receive()


async def test_a_real_cancellation_of_a_receive_is_not_swallowed():
    proto = StubProtocol()
    ws = make(proto)
    await ws.accept()
    receiving = asyncio.ensure_future(ws.receive())
    await asyncio.wait_for(proto.transport.receiving.wait(), 5)
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert not ws.closed


async def test_transport_failures_become_connection_closed_1006():
    ws = make(StubProtocol(StuckTransport(fail_receive=True)))
    await ws.accept()
    message = await ws.receive()
    assert (message.type, message.code) == ("close", 1006)
    with pytest.raises(ConnectionClosed) as closed:
        await ws.receive_text()
    assert closed.value.code == 1006

    ws = make(StubProtocol(StuckTransport(fail_send=True)))
    await ws.accept()
    with pytest.raises(ConnectionClosed) as closed:
        await ws.send_text("x")
    assert closed.value.code == 1006 and ws.closed
    with pytest.raises(ConnectionClosed):
        await ws.send_bytes(b"x")


async def test_failed_handshake_raises_connection_closed():
    ws = make(StubProtocol(fail_accept=True))
    with pytest.raises(ConnectionClosed):
        await ws.accept()
    assert ws.closed and not ws.accepted


async def test_close_before_accept_sends_an_http_status_never_a_close_code():
    for code, status in ((1000, 403), (1008, 403), (4000, 403), (1011, 500), (1013, 503)):
        proto = StubProtocol()
        await make(proto).close(code)
        assert proto.closes == [status]


async def test_reject_takes_only_http_errors_before_accept():
    proto = StubProtocol()
    ws = make(proto)
    for bad in (200, 1008, "403", True):
        with pytest.raises(ValueError):
            await ws.reject(bad)
    await ws.reject(401)
    assert proto.closes == [401]
    with pytest.raises(RuntimeError):
        await ws.accept()
    accepted = make(StubProtocol())
    await accepted.accept()
    with pytest.raises(RuntimeError):
        await accepted.reject()


async def test_a_closed_websocket_lets_go_of_the_transport():
    """Granian only ends a connection once its transport object is freed."""
    ws = make(StubProtocol())
    transport = await ws.accept()
    assert ws.transport is transport
    await ws.close()
    assert ws.transport is None and ws.accepted and ws.closed


async def test_finalize_closes_exactly_once():
    proto = StubProtocol()
    ws = make(proto)
    await ws.accept()
    await ws.close(1001)
    ws._finalize()
    ws._finalize(failed=True)
    assert proto.closes == [1001]


def test_client_address_parsing():
    def client(raw):
        scope = FakeScope("GET", "/", "", FakeHeaders([]), proto="ws", client=raw)
        return tuple(
            WebSocket(scope, StubProtocol(), max_message_bytes=1, send_chunk_bytes=1).client
        )

    assert client("1.2.3.4:80") == ("1.2.3.4", 80)
    assert client("[::1]:8080") == ("::1", 8080)
    assert client("") == ("unknown", 0)
    assert client("somewhere") == ("somewhere", 0)
