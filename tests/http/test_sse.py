"""Server-sent events: framing, injection safety, SSEStream, Last-Event-ID."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.http.request import Request
from gobstopper.http.sse import (
    KEEP_ALIVE_COMMENT,
    SSEEvent,
    SSEStream,
    format_sse,
    format_sse_comment,
    last_event_id,
)
from gobstopper.testing import FakeHTTPProtocol, TestClient, build_request


def parse_events(text: str) -> list[dict[str, list[str]]]:
    """A minimal EventSource parser: fields per event, comments dropped."""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
        if fields:
            events.append(fields)
    return events


# -- format_sse -------------------------------------------------------------------
def test_format_sse_fields():
    assert format_sse("hello") == "data: hello\n\n"
    assert format_sse("x", event="update", id=7, retry=1500) == (
        "event: update\nid: 7\nretry: 1500\ndata: x\n\n"
    )
    assert format_sse({"a": [1, 2]}) == 'data: {"a":[1,2]}\n\n'
    assert format_sse(b"raw") == "data: raw\n\n"
    assert format_sse("") == "data: \n\n"
    assert format_sse(id="only") == "id: only\n\n"


@pytest.mark.parametrize("separator", ["\n", "\r", "\r\n"])
def test_newlines_in_data_become_separate_data_lines(separator):
    framed = format_sse(f"one{separator}event: evil{separator}{separator}data: forged")
    assert framed == "data: one\ndata: event: evil\ndata: \ndata: data: forged\n\n"
    assert "\r" not in framed
    [event] = parse_events(framed)
    assert event == {"data": ["one", "event: evil", "", "data: forged"]}


def test_unicode_line_separators_are_not_split():
    assert format_sse("a\u2028b\x0bc") == "data: a\u2028b\x0bc\n\n"


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "\n"])
def test_cr_lf_in_event_or_id_is_rejected(field, bad):
    with pytest.raises(ValueError):
        format_sse("x", **{field: bad})


@pytest.mark.parametrize(
    "kwargs", [{"id": "a\x00b"}, {"retry": -1}, {"retry": "5"}, {"retry": True}, {}]
)
def test_other_invalid_events(kwargs):
    with pytest.raises(ValueError):
        format_sse(**kwargs)


def test_comments_and_event_objects():
    assert format_sse_comment("ping") == ": ping\n\n"
    assert format_sse_comment("a\nb") == ": a\n: b\n\n"
    assert str(SSEEvent("d", event="e", id="1")) == "event: e\nid: 1\ndata: d\n\n"


# -- SSEStream through the app ------------------------------------------------------
def sse_app(make_stream):
    app = Gobstopper()

    @app.get("/events")
    async def events(request):
        return make_stream(request)

    return app


def test_stream_headers_and_event_kinds():
    async def source():
        yield "plain"
        yield {"data": "multi\nline", "event": "note", "id": "2"}
        yield SSEEvent(data={"n": 3}, id=3)
        yield [1, 2]

    app = sse_app(lambda request: SSEStream(source(), retry=2000))
    with TestClient(app) as client:
        result = client.get("/events")
    assert result.rsgi_call == "response_stream"
    assert result.headers["content-type"] == "text/event-stream"
    assert result.headers["cache-control"] == "no-cache"
    assert parse_events(result.text) == [
        {"retry": ["2000"]},
        {"data": ["plain"]},
        {"event": ["note"], "id": ["2"], "data": ["multi", "line"]},
        {"id": ["3"], "data": ['{"n":3}']},
        {"data": ["[1,2]"]},
    ]


def test_injection_through_a_source_is_framed_safely():
    async def source():
        yield "hi\r\n\r\nevent: admin\r\ndata: pwned"

    with TestClient(sse_app(lambda request: SSEStream(source()))) as client:
        events = parse_events(client.get("/events").text)
    assert events == [{"data": ["hi", "", "event: admin", "data: pwned"]}]


def test_bad_event_from_source_ends_stream_without_forging(caplog):
    async def source():
        yield {"data": "ok", "id": "1"}
        yield {"data": "x", "event": "bad\nevent: forged"}

    with TestClient(sse_app(lambda request: SSEStream(source()))) as client:
        text = client.get("/events").text
    assert "forged" not in text
    assert parse_events(text) == [{"id": ["1"], "data": ["ok"]}]


class KeepAliveWatcher(FakeHTTPProtocol):
    """Records the stream's frames; ``kept_alive`` is set once a keep-alive went out."""

    def __init__(self) -> None:
        super().__init__(b"")
        self.frames: list[str] = []
        self.kept_alive = asyncio.Event()

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        super().response_stream(status, headers)
        watcher = self

        class Transport:
            async def send_str(self, data: str) -> None:
                watcher.frames.append(data)
                if data == KEEP_ALIVE_COMMENT:
                    watcher.kept_alive.set()

            async def send_bytes(self, data: bytes) -> None:
                await self.send_str(data.decode())

        return Transport()


async def test_keep_alive_comments_are_sent_while_source_is_quiet():
    proto = KeepAliveWatcher()

    async def quiet_until_kept_alive():
        yield "first"
        await asyncio.wait_for(proto.kept_alive.wait(), 5)
        yield "second"

    stream = SSEStream(quiet_until_kept_alive(), keep_alive=0.01)
    await stream.send(proto, Request(build_request("GET", "/events")[0], proto))
    first, *quiet, last = proto.frames
    assert (first, last) == ("data: first\n\n", "data: second\n\n")
    assert quiet and set(quiet) == {KEEP_ALIVE_COMMENT}


def test_no_keep_alive_comment_while_the_source_keeps_talking():
    async def talkative():
        for n in range(3):
            yield str(n)

    app = sse_app(lambda request: SSEStream(talkative(), keep_alive=5))
    with TestClient(app) as client:
        text = client.get("/events").text
    assert KEEP_ALIVE_COMMENT not in text
    assert [e["data"] for e in parse_events(text)] == [["0"], ["1"], ["2"]]


def test_last_event_id_lets_the_handler_resume():
    def make(request):
        start = int(last_event_id(request) or 0)

        async def source():
            for n in range(start, start + 3):
                yield SSEEvent(data=f"event {n}", id=n)

        return SSEStream(source(), keep_alive=None)

    with TestClient(sse_app(make)) as client:
        fresh = parse_events(client.get("/events").text)
        resumed = parse_events(client.get("/events", headers={"Last-Event-ID": "41"}).text)
    assert [e["id"] for e in fresh] == [["0"], ["1"], ["2"]]
    assert [e["id"] for e in resumed] == [["41"], ["42"], ["43"]]


@pytest.mark.parametrize("keep_alive", [None, 5.0])
def test_disconnect_closes_the_source(keep_alive):
    closed = []

    async def endless():
        try:
            n = 0
            while True:
                yield SSEEvent(data=n, id=n)
                n += 1
        finally:
            closed.append(True)

    app = sse_app(lambda request: SSEStream(endless(), keep_alive=keep_alive))
    with TestClient(app) as client:
        result = client.get("/events", disconnect_after_chunks=5)
    assert len(result.chunks) == 5
    assert closed == [True]


def test_source_error_is_not_swallowed_silently(caplog):
    async def broken():
        yield "one"
        raise RuntimeError("source failed")

    with TestClient(sse_app(lambda request: SSEStream(broken()))) as client:
        text = client.get("/events").text
    assert text == "data: one\n\n"
    assert any(r.exc_info and "source failed" in str(r.exc_info[1]) for r in caplog.records)


def test_invalid_construction():
    with pytest.raises(ValueError):
        SSEStream([], keep_alive=0)
    with pytest.raises(ValueError):
        SSEStream([], retry=-5)
    with pytest.raises(TypeError):
        SSEStream(42)


def test_ten_thousand_events_in_order_in_process():
    async def many():
        for n in range(10_000):
            yield SSEEvent(data=f"payload {n}", id=n)

    with TestClient(sse_app(lambda request: SSEStream(many()))) as client:
        events = parse_events(client.get("/events").text)
    assert [int(e["id"][0]) for e in events] == list(range(10_000))
