"""Issue 15 over a real Granian server: a stream that fails after its first chunk.

The client must neither hang nor mistake the truncated body for a complete
one: the connection closes without the final chunk, and the error is logged
once.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.hardening import hardening_server, raw_request

pytestmark = pytest.mark.e2e

LOGGED = "streaming response failed after it started"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with hardening_server(tmp_path_factory.mktemp("hardening-streams")) as running:
        yield running


def test_a_failing_stream_aborts_the_connection_promptly(server):
    started = time.monotonic()
    with (
        httpx.Client(base_url=server.url, timeout=10) as client,
        client.stream("GET", "/stream?fail=1") as response,
    ):
        assert response.status_code == 200
        received = b""
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in response.iter_raw():
                received += chunk
    assert received == b"first chunk\n"
    assert time.monotonic() - started < 5
    assert server.log().count(LOGGED) == 1
    assert server.log().count("RuntimeError: stream source failed") == 1


def test_the_abort_sends_no_final_chunk_and_the_server_keeps_serving(server):
    raw = raw_request(server.port, b"GET /stream?fail=1 HTTP/1.1\r\nHost: app.example\r\n\r\n")
    assert raw.lower().endswith(b"c\r\nfirst chunk\n\r\n")  # the first chunk, then the close
    assert not raw.endswith(b"0\r\n\r\n")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/stream").text == "first chunk\nsecond chunk\n"
        assert client.get("/me").status_code == 200


def test_a_stream_that_completes_ends_with_the_final_chunk(server):
    raw = raw_request(
        server.port, b"GET /stream HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n"
    )
    assert raw.lower().endswith(b"d\r\nsecond chunk\n\r\n0\r\n\r\n")
