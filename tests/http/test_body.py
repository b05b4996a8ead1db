"""Raw bodies: get_data/get_body, limits, chunked bodies, read-once state."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from gobstopper import Gobstopper
from gobstopper.http import body as body_module
from gobstopper.http.body import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_JSON_DEPTH,
    declared_length,
    is_json_media_type,
    iter_body,
    media_type,
)
from gobstopper.http.errors import BadRequest, RequestTooLarge
from gobstopper.http.request import Request
from gobstopper.middleware import LimitsMiddleware
from gobstopper.testing import AsyncTestClient, FakeHeaders, FakeScope, TestClient
from tests.http.streaming_protocol import StreamingProtocol


def endless(chunk_size: int = 64 * 1024, limit: int = 1 << 30) -> Iterator[bytes]:
    """Up to ``limit`` bytes of zeros (a 'huge upload' that is only pulled on demand)."""
    chunk = b"\0" * chunk_size
    for _ in range(limit // chunk_size):
        yield chunk


def make_request(
    chunks: Iterable[bytes],
    headers: dict[str, str] | None = None,
) -> tuple[Request, StreamingProtocol]:
    proto = StreamingProtocol(chunks)
    scope = FakeScope("POST", "/", "", FakeHeaders(list((headers or {}).items())))
    return Request(scope, proto), proto


async def send_chunked(
    app: Gobstopper, path: str, chunks: Iterable[bytes], headers: dict[str, str] | None = None
) -> tuple[int, bytes, int]:
    """Send a body without Content-Length through the app; (status, body, bytes pulled)."""
    async with AsyncTestClient(app):
        proto = StreamingProtocol(chunks)
        items = [("host", "testserver"), *(headers or {}).items()]
        scope = FakeScope("POST", path, "", FakeHeaders(items))
        await app.__rsgi__(scope, proto)
        return proto.status, b"".join(proto.chunks), proto.pulled


def raw_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/raw")
    async def raw(request):
        first = await request.get_data()
        again = await request.get_body()
        return {"size": len(first), "same": first is again}

    @app.post("/small", middleware=[LimitsMiddleware(max_body_bytes=10)])
    async def small(request):
        return {"size": len(await request.get_data())}

    @app.post("/handled", middleware=[LimitsMiddleware(max_body_bytes=10)])
    async def handled(request):
        try:
            await request.get_data()
        except RequestTooLarge:
            return {"error": "File too large"}, 413
        return "unreachable"

    return app


def test_defaults_are_documented_values():
    assert DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024
    assert DEFAULT_MAX_JSON_DEPTH == 64
    request, _ = make_request([])
    assert request.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert request.max_json_depth is None
    assert request.body_limits is DEFAULT_LIMITS


def test_get_data_reads_once_and_caches():
    with TestClient(raw_app()) as client:
        response = client.post("/raw", content=b"x" * 1000)
        assert response.json() == {"size": 1000, "same": True}
        assert client.post("/raw").json() == {"size": 0, "same": True}


def test_body_over_limit_is_413_unhandled_and_catchable():
    with TestClient(raw_app()) as client:
        assert client.post("/small", content=b"0123456789").json() == {"size": 10}
        over = client.post("/small", content=b"01234567890")
        assert over.status_code == 413
        assert "limit 10 bytes" in over.json()["error"]
        handled = client.post("/handled", content=b"x" * 11)
        assert (handled.status_code, handled.json()) == (413, {"error": "File too large"})


async def test_declared_length_over_limit_is_refused_before_reading():
    request, proto = make_request(endless(), {"content-length": str(1 << 30)})
    with pytest.raises(RequestTooLarge):
        await request.get_data()
    assert proto.pulled == 0


async def test_chunked_body_is_cut_off_just_past_the_limit():
    request, proto = make_request(endless(chunk_size=1000))
    request.max_body_bytes = 10_000
    with pytest.raises(RequestTooLarge):
        await request.get_data()
    assert proto.pulled == 11_000  # never more than the limit plus one chunk


async def test_chunked_upload_through_the_app_gets_413_and_stops_reading():
    status, body, pulled = await send_chunked(raw_app(), "/small", endless(chunk_size=4))
    assert status == 413 and b"too large" in body
    assert pulled == 12
    status, body, pulled = await send_chunked(raw_app(), "/raw", [b"ab", b"cd", b"e"])
    assert status == 200 and body == b'{"size":5,"same":true}'


async def test_default_limit_applies_to_chunked_bodies():
    status, _, pulled = await send_chunked(raw_app(), "/raw", endless())
    assert status == 413
    assert pulled <= DEFAULT_MAX_BODY_BYTES + 64 * 1024


async def test_failed_read_is_remembered_not_retried():
    request, proto = make_request(endless(chunk_size=100))
    request.max_body_bytes = 150
    with pytest.raises(RequestTooLarge) as first:
        await request.get_data()
    pulled = proto.pulled
    with pytest.raises(RequestTooLarge) as second:
        await request.get_body()
    assert second.value is first.value and proto.pulled == pulled


async def test_no_limit_when_max_body_bytes_is_none():
    request, _ = make_request([b"a" * 100, b"b"])
    request.max_body_bytes = None
    assert len(await request.get_data()) == 101


async def test_zero_content_length_reads_nothing():
    request, proto = make_request(endless(), {"content-length": "0"})
    assert await request.get_data() == b""
    assert proto.pulled == 0


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "9" * 19, "١٢"])
def test_malformed_content_length_is_400(value):
    with pytest.raises(BadRequest):
        declared_length({"content-length": value})


async def test_iter_body_uses_the_given_error():
    chunks = iter_body(
        StreamingProtocol([b"12345", b"678"]), {}, 6, lambda limit: BadRequest(f"over {limit}")
    )
    assert await chunks.__anext__() == b"12345"
    with pytest.raises(BadRequest, match="over 6"):
        await chunks.__anext__()


def test_media_type_helpers():
    assert media_type({"content-type": "Application/JSON; charset=utf-8"}) == "application/json"
    assert media_type({}) == ""
    assert is_json_media_type("application/json")
    assert is_json_media_type("application/vnd.api+json")
    assert is_json_media_type("application/problem+json")
    assert not is_json_media_type("text/json+plain")
    assert not is_json_media_type("application/jsonx")
    assert body_module.FORM_URLENCODED == "application/x-www-form-urlencoded"


def test_errors_before_the_body_is_read_close_the_connection():
    app = raw_app()

    @app.post("/json")
    async def json_(request):
        return {"data": await request.json()}

    with TestClient(app) as client:
        over = client.post("/small", content=b"x" * 11)
        assert over.status_code == 413 and over.headers.get("connection") == "close"
        wrong_type = client.post("/json", content=b"{}", headers={"content-type": "text/plain"})
        assert wrong_type.status_code == 415 and wrong_type.headers.get("connection") == "close"
        read_then_refused = client.post(
            "/json", content=b"{", headers={"content-type": "application/json"}
        )
        assert read_then_refused.status_code == 400
        assert read_then_refused.headers.get("connection") is None
