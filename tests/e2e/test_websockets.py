"""WebSockets under a real Granian server, with the ``websockets`` client.

Every test runs on both interfaces. Granian (2.x) over RSGI sends its close
frames without a status code and does not pass the client's code to the app;
over ASGI both travel. These tests pin that down, and check the codes the
app chose through the app's ``/closes`` report.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.ws_close import closed_with
from tests.servers import INTERFACES, ROOT, granian_server

pytestmark = pytest.mark.e2e

#: What a client sees when Granian closes over RSGI (it never sends a code).
GRANIAN_CLOSE_CODE = 1005
READERS = 200
MESSAGES = 20
SEND_TIMEOUT = 1.0  # ws_app's manager
BROADCAST_BOUND = SEND_TIMEOUT + 5.0  # one stall, then 200 x 20 small sends
DELIVERY_BOUND = 15.0


@pytest.fixture(scope="module", params=INTERFACES)
def server(request, tmp_path_factory):
    with granian_server(
        "ws_app:app", tmp_path_factory.mktemp("ws"), interface=request.param
    ) as running:
        yield running


def on_the_wire(server, code: int) -> int:
    """The close code a client receives when the app closes with ``code``."""
    return code if server.interface == "asgi" else GRANIAN_CLOSE_CODE


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    with granian_server(
        "chat:app", tmp_path_factory.mktemp("chat"), app_dir=ROOT / "examples"
    ) as running:
        yield running


async def closes(server, path: str, conn_id: str, deadline: float = 10.0) -> list[dict]:
    """Poll the app's report of how connection ``conn_id`` on ``path`` was closed."""
    end = time.monotonic() + deadline
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        while time.monotonic() < end:
            found = [
                c
                for c in (await http.get("/closes", params={"path": path})).json()
                if c["id"] == conn_id
            ]
            if found:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(f"{path} id={conn_id} was not reported closed within {deadline}s")


async def test_echo_text_and_bytes_one_message_each(server):
    async with connect(f"{server.ws_url}/ws/echo", max_size=None) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\xffbinary")
        assert await ws.recv() == b"\x00\xffbinary"
        big = os.urandom(1024 * 1024)  # exactly MAX_WS_MESSAGE_BYTES: one message back
        await ws.send(big)
        assert await ws.recv() == big


async def test_typed_path_params(server):
    token = uuid.uuid4()
    async with connect(f"{server.ws_url}/ws/typed/42/{token}") as ws:
        assert await ws.recv() == (f'{{"n":42,"is_int":true,"token":"{token}","is_uuid":true}}')


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/nowhere", 404),
        (f"/ws/typed/abc/{uuid.uuid4()}", 400),
        ("/ws/echo?token=bad", 403),  # before_websocket hook returned False
    ],
)
async def test_refused_handshakes_get_http_statuses(server, path, status):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}{path}"):
            pass
    assert refused.value.response.status_code == status


@pytest.mark.parametrize("code", [1000, 1008, 4000, 4001])
async def test_server_close_code_is_recorded_and_sent_over_asgi_only(server, code):
    conn_id = uuid.uuid4().hex
    async with connect(f"{server.ws_url}/ws/close/{code}?id={conn_id}") as ws:
        received = await closed_with(ws)
    if server.interface == "asgi":
        assert received == (code, "server says bye")
    else:
        assert received == (GRANIAN_CLOSE_CODE, "")
    assert await closes(server, f"/ws/close/{code}", conn_id) == [
        {"id": conn_id, "code": code, "reason": "server says bye"}
    ]


async def test_client_close_code_reaches_the_handler_over_asgi_only(server):
    conn_id = uuid.uuid4().hex
    async with connect(f"{server.ws_url}/ws/peer-close?id={conn_id}") as ws:
        assert await ws.recv() == "ready"
        await ws.close(4001, "client bye")
    reported = await closes(server, "/ws/peer-close", conn_id)
    # Granian's ASGI disconnect event carries the code but not the reason.
    assert reported == [{"id": conn_id, "code": on_the_wire(server, 4001), "reason": ""}]


async def test_oversized_message_closes_with_1009_and_server_keeps_serving(server):
    conn_id = uuid.uuid4().hex
    async with connect(f"{server.ws_url}/ws/echo?id={conn_id}", max_size=None) as ws:
        await ws.send(b"x" * (1024 * 1024 + 1))
        assert (await closed_with(ws))[0] == on_the_wire(server, 1009)
    assert (await closes(server, "/ws/echo", conn_id))[0]["code"] == 1009
    async with connect(f"{server.ws_url}/ws/echo") as ws:
        await ws.send("still serving")
        assert await ws.recv() == "still serving"


async def test_handler_exception_closes_with_1011_is_logged_server_keeps_serving(server):
    conn_id = uuid.uuid4().hex
    async with connect(f"{server.ws_url}/ws/boom?id={conn_id}") as ws:
        await ws.send("go")
        assert (await closed_with(ws))[0] == on_the_wire(server, 1011)
    assert (await closes(server, "/ws/boom", conn_id))[0]["code"] == 1011
    assert "secret internals" in server.log() and "Traceback" in server.log()
    assert server.process.poll() is None
    async with connect(f"{server.ws_url}/ws/echo") as ws:
        await ws.send("alive")
        assert await ws.recv() == "alive"


def open_reader_that_never_reads(port: int, path: str) -> socket.socket:
    """A raw WebSocket client with a tiny receive buffer that never reads a frame."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        head += sock.recv(1)  # the handshake answer only, byte by byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def poll_json(http: httpx.AsyncClient, url: str, ok, deadline: float) -> dict:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        data = (await http.get(url)).json()
        if ok(data):
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never satisfied the condition; last: {data}")


async def test_200_clients_get_a_broadcast_in_order_while_one_never_reads(server):
    """The stalled member is dropped after send_timeout; the 200 others get all in order."""
    readers = []
    try:
        for start in range(0, READERS, 50):
            batch = await asyncio.gather(
                *(
                    connect(f"{server.ws_url}/ws/room/lobby?id=r{i}")
                    for i in range(start, start + 50)
                )
            )
            readers.extend(batch)
        for ws in readers:
            assert await asyncio.wait_for(ws.recv(), 10) == "joined"
        # The never-reading member: the app writes to it until its socket is full.
        stuck = await asyncio.to_thread(
            open_reader_that_never_reads, server.port, "/ws/room/lobby?id=stuck&fill=1"
        )
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await poll_json(http, "/fill/stuck", lambda d: d.get("stalled"), 30)
            await poll_json(http, "/rooms/lobby", lambda d: len(d["members"]) == READERS + 1, 10)

            started = time.monotonic()
            sent = (await http.post("/broadcast/lobby", params={"count": MESSAGES})).json()

            async def read_all(ws) -> list[str]:
                return [await ws.recv() for _ in range(MESSAGES)]

            got = await asyncio.wait_for(
                asyncio.gather(*(read_all(ws) for ws in readers)), DELIVERY_BOUND
            )
            delivered_in = time.monotonic() - started
            assert SEND_TIMEOUT * 0.9 <= sent["elapsed"] < BROADCAST_BOUND, sent
            assert delivered_in < DELIVERY_BOUND
            assert all(messages == [f"message {i}" for i in range(MESSAGES)] for messages in got)
            assert sent["members"] == READERS
            members = (await http.get("/rooms/lobby")).json()["members"]
            assert "stuck" not in members and len(members) == READERS
        # Dropping it closed the connection: the raw client reaches EOF.
        await asyncio.to_thread(read_until_eof, stuck, 30)
    finally:
        await asyncio.gather(*(ws.close() for ws in readers), return_exceptions=True)


def read_until_eof(sock: socket.socket, deadline: float) -> None:
    end = time.monotonic() + deadline
    sock.settimeout(1)
    try:
        while time.monotonic() < end:
            try:
                if not sock.recv(1 << 20):
                    return
            except TimeoutError:
                continue
            except ConnectionResetError:
                return
        raise AssertionError(f"the dropped connection was still open after {deadline}s")
    finally:
        sock.close()


async def test_chat_example_rooms(chat_server):
    async with httpx.AsyncClient(base_url=chat_server.url, timeout=10) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "new WebSocket(" in page.text
    base = f"{chat_server.ws_url}/ws/chat"

    async def next_event(ws) -> dict:
        return json.loads(await asyncio.wait_for(ws.recv(), 10))

    async with connect(f"{base}/red?name=ann") as ann, connect(f"{base}/blue?name=cid") as cid:
        assert (await next_event(ann))["type"] == "welcome"
        assert await next_event(ann) == {"type": "join", "user": "ann", "members": 1}
        assert (await next_event(cid))["type"] == "welcome"
        assert await next_event(cid) == {"type": "join", "user": "cid", "members": 1}
        async with connect(f"{base}/red?name=bob") as bob:
            assert (await next_event(bob))["type"] == "welcome"
            assert await next_event(bob) == {"type": "join", "user": "bob", "members": 2}
            assert await next_event(ann) == {"type": "join", "user": "bob", "members": 2}
            await bob.send(json.dumps({"text": "hi red"}))
            said = {"type": "message", "room": "red", "user": "bob", "text": "hi red"}
            assert await next_event(ann) == said
            assert await next_event(bob) == said
        assert await next_event(ann) == {"type": "leave", "user": "bob", "members": 1}
        await cid.send("hi blue")
        assert await next_event(cid) == {
            "type": "message",
            "room": "blue",
            "user": "cid",
            "text": "hi blue",
        }  # red's traffic never came
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{base}/bad%20room"):
                pass
        assert refused.value.response.status_code == 403
