"""A streamed response that fails: logged once, connection aborted, transport freed."""

from __future__ import annotations

import gc
import logging
import weakref
from typing import Any

import pytest

from gobstopper import Gobstopper, StreamResponse
from gobstopper.http import stream_abort
from gobstopper.testing import FakeHTTPProtocol, TestClient, build_request


class WatchedProtocol(FakeHTTPProtocol):
    """Keeps a weak reference to the stream transport it hands out."""

    transport: weakref.ref[Any] | None = None

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        transport = super().response_stream(status, headers)
        self.transport = weakref.ref(transport)
        return transport


def streaming_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.get("/fails")
    async def fails(request):
        async def chunks():
            yield b"first"
            raise RuntimeError("source failed")

        return StreamResponse(chunks())

    @app.get("/bad-header")
    async def bad_header(request):
        async def chunks():
            yield b"never sent"

        response = StreamResponse(chunks())
        response.headers["x-bad"] = "a\r\nb"  # changed after the constructor checked them
        return response

    return app


@pytest.fixture
def aborted(monkeypatch) -> list[Any]:
    """The scopes the dispatcher asked to abort."""
    calls: list[Any] = []

    async def record(scope: Any) -> bool:
        calls.append(scope)
        return True

    monkeypatch.setattr(stream_abort, "abort_connection", record)
    return calls


def test_a_stream_failing_after_it_started_is_logged_once_and_aborted(caplog, aborted):
    app = streaming_app()
    scope, body = build_request("GET", "/fails")
    proto = WatchedProtocol(body)
    gc.disable()  # the transport must be freed by reference counting alone
    try:
        with caplog.at_level(logging.ERROR), TestClient(app) as client:
            client.run(app.__rsgi__(scope, proto))
            assert proto.transport is not None and proto.transport() is None
    finally:
        gc.enable()
    assert proto.calls == ["response_stream"] and proto.chunks == [b"first"]
    assert aborted == [scope]
    failures = [r for r in caplog.records if "streaming response failed" in r.getMessage()]
    assert len(failures) == 1 and "source failed" in caplog.text


def test_headers_that_cannot_be_sent_are_a_500_before_the_stream_starts(caplog, aborted):
    app = streaming_app()
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        response = client.get("/bad-header")
    assert response.status == 500 and response.text == "Internal Server Error"
    assert aborted == []
    assert "could not send response" in caplog.text
