"""StreamResponse: response_stream, chunk kinds, sources, and disconnects."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gobstopper import Gobstopper, StreamResponse
from gobstopper.http.request import Request
from gobstopper.testing import AsyncTestClient, TestClient, build_request


def make_app(**routes):
    app = Gobstopper()
    for path, factory in routes.items():

        async def handler(request, _factory=factory):
            return _factory()

        app.add_url_rule("/" + path, handler, name=path)
    return app


async def chunks(*items):
    for item in items:
        yield item


def test_async_generator_with_str_and_bytes_chunks():
    app = make_app(s=lambda: StreamResponse(chunks("a", b"b", "é"), content_type="text/csv"))
    with TestClient(app) as client:
        result = client.get("/s")
    assert result.rsgi_call == "response_stream"
    assert result.chunks == [b"a", b"b", "é".encode()]
    assert result.headers["content-type"] == "text/csv"


def test_callable_source_status_and_headers():
    def factory():
        return StreamResponse(lambda: chunks("x", "y"), status=201, headers={"X-Run": "1"})

    with TestClient(make_app(s=factory)) as client:
        result = client.get("/s")
    assert result.status_code == 201
    assert result.text == "xy"
    assert result.headers["x-run"] == "1"
    assert result.headers["content-type"] == "text/plain"


def test_plain_iterables_are_accepted():
    with TestClient(make_app(s=lambda: StreamResponse(["a", b"b"]))) as client:
        assert client.get("/s").text == "ab"


@pytest.mark.parametrize("bad", ["text", b"bytes", 42, None])
def test_bad_sources_fail_at_construction(bad):
    with pytest.raises(TypeError):
        StreamResponse(bad)


def test_head_does_not_run_the_generator():
    ran = []

    async def source():
        ran.append(True)
        yield "never"

    with TestClient(make_app(s=lambda: StreamResponse(source))) as client:
        head = client.head("/s")
    assert head.status_code == 200 and head.content == b"" and not ran


def test_client_disconnect_closes_generator_and_logs_nothing(caplog):
    closed = []

    async def endless():
        try:
            n = 0
            while True:
                yield f"chunk {n}\n"
                n += 1
        finally:
            closed.append(True)

    with (
        caplog.at_level(logging.WARNING),
        TestClient(make_app(s=lambda: StreamResponse(endless()))) as client,
    ):
        result = client.get("/s", disconnect_after_chunks=3)
    assert result.chunks == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    assert closed == [True]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_generator_error_mid_stream_is_logged_not_raised(caplog):
    async def broken():
        yield "partial"
        raise RuntimeError("generator blew up")

    with (
        caplog.at_level(logging.ERROR),
        TestClient(make_app(s=lambda: StreamResponse(broken()))) as client,
    ):
        result = client.get("/s")
        assert client.get("/s").chunks == [b"partial"]  # the app keeps serving
    assert result.chunks == [b"partial"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert [str(r.exc_info[1]) for r in errors] == ["generator blew up"] * 2


class DisconnectingProtocol:
    """A protocol whose client leaves when ``gone`` is set, like Granian's."""

    def __init__(self):
        self.gone = asyncio.Event()
        self.sent: list[bytes] = []

    async def client_disconnect(self):
        await self.gone.wait()

    def response_stream(self, status, headers):
        proto = self

        class Transport:
            async def send_bytes(self, data):
                proto.sent.append(data)

            async def send_str(self, data):
                proto.sent.append(data.encode())

        return Transport()


async def test_idle_generator_is_closed_as_soon_as_the_client_leaves():
    state = {"closed": False, "waiting": asyncio.Event()}

    async def waits_forever():
        try:
            yield "hello"
            state["waiting"].set()
            await asyncio.Event().wait()  # no event will ever come
            yield "unreachable"
        finally:
            state["closed"] = True

    proto = DisconnectingProtocol()
    request = Request(build_request("GET", "/")[0], proto)
    sending = asyncio.ensure_future(StreamResponse(waits_forever()).send(proto, request))
    await asyncio.wait_for(state["waiting"].wait(), 5)
    proto.gone.set()
    await asyncio.wait_for(sending, 5)  # returns quietly, no exception
    assert state["closed"] is True
    assert proto.sent == [b"hello"]


async def test_send_cancelled_from_outside_still_closes_generator():
    waiting, closed = asyncio.Event(), asyncio.Event()

    async def slow():
        try:
            yield "a"
            waiting.set()
            await asyncio.Event().wait()  # blocks until the send is cancelled
            yield "unreachable"
        finally:
            closed.set()

    proto = DisconnectingProtocol()
    request = Request(build_request("GET", "/")[0], proto)
    sending = asyncio.ensure_future(StreamResponse(slow()).send(proto, request))
    await asyncio.wait_for(waiting.wait(), 5)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert closed.is_set()
    assert proto.sent == [b"a"]


async def test_async_client_streams_many_chunks_in_order():
    async def numbers():
        for n in range(2000):
            yield f"{n},"

    app = make_app(s=lambda: StreamResponse(numbers()))
    async with AsyncTestClient(app) as client:
        result = await client.get("/s")
    assert result.text.split(",")[:-1] == [str(n) for n in range(2000)]
