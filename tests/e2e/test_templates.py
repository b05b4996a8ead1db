"""Template rendering under a real Granian server, with httpx."""

from __future__ import annotations

import re
import socket
import time
import uuid

import httpx
import pytest

from tests.servers import granian_server

pytestmark = pytest.mark.e2e

HTML = {"accept": "text/html"}
XSS = '<script>alert("pwned")</script>\'&'


@pytest.fixture(scope="module")
def jinja_server(tmp_path_factory):
    with granian_server("templates_app:app", tmp_path_factory.mktemp("tpl-jinja")) as running:
        yield running


@pytest.fixture(scope="module")
def rust_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tpl-rust")
    with granian_server("templates_app:rust_app", folder) as running:
        yield running


@pytest.fixture(params=["jinja2", "minijinja"])
def server(request):
    return request.getfixturevalue("jinja_server" if request.param == "jinja2" else "rust_server")


def test_streamed_report_arrives_before_rendering_finishes(jinja_server) -> None:
    """The first chunk reaches the client while the server is still rendering.

    The template's rows come from a generator that stops at row 2,000 until the
    client calls /release; the client calls it only after reading a first chunk.
    A server that rendered the page before sending would never send that chunk,
    and the read would time out.
    """
    token = uuid.uuid4().hex
    timeout = httpx.Timeout(10.0)
    with httpx.Client(base_url=jinja_server.url, timeout=timeout) as client:
        with client.stream("GET", f"/gated-report/{token}") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            assert "content-length" not in response.headers
            chunks = response.iter_raw()
            first = next(chunks)
            assert b"<table>" in first
            assert b"<td>2000</td>" not in first  # not rendered until released
            assert client.post(f"/release/{token}").json() == {"released": token}
            rest = list(chunks)
    body = (first + b"".join(rest)).decode()
    assert len(rest) >= 1
    assert body.count("<tr>") == 10_000
    assert body.rstrip().endswith("</html>")


def read_chunked(port: int, target: str, deadline: float = 10.0) -> tuple[bytes, list[bytes]]:
    """GET ``target`` over a raw socket; return the head and each HTTP/1.1 chunk.

    Counting the chunks of the chunked encoding (not socket reads, which TCP
    splits as it likes) tells whether the server sent the page in pieces.
    """
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    received = bytearray()
    end = time.monotonic() + deadline
    with socket.create_connection(("127.0.0.1", port), timeout=deadline) as sock:
        sock.sendall(request.encode())
        while time.monotonic() < end:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    chunks: list[bytes] = []
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        chunks.append(body[:size])
        body = body[size + 2 :]
    return head, chunks


def test_ten_thousand_rows_stream_in_many_chunks(jinja_server) -> None:
    head, chunks = read_chunked(jinja_server.port, "/report?rows=10000")
    body = b"".join(chunks).decode()
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert len(chunks) > 10  # ~8 KiB each, not one piece of ~400 KB
    assert max(len(chunk) for chunk in chunks) < 64 * 1024
    assert body.count("<tr>") == 10_000
    assert "<tr><td>9999</td><td>row 9999</td></tr>" in body


def test_httpx_reads_the_streamed_report_in_more_than_one_chunk(jinja_server) -> None:
    with httpx.Client(base_url=jinja_server.url, timeout=10) as client:
        with client.stream("GET", "/report", params={"rows": "10000"}) as response:
            chunks = list(response.iter_raw())
    assert len(chunks) > 1
    assert b"".join(chunks).decode().count("<tr>") == 10_000


def test_xss_in_context_is_escaped(server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.get("/page", params={"c": XSS})
    assert response.status_code == 200
    assert "<script>" not in response.text and '"pwned"' not in response.text
    assert "&lt;script&gt;" in response.text
    # url_for's output is not mangled by escaping, on either engine
    assert response.text.startswith('<a href="/page">')


def test_blueprint_folder_is_searched_after_the_app_folder(server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/shop/shared").text.strip() == "shared from the app"
        only = client.get("/shop/only").text.strip()
    assert only == "only in the blueprint: &lt;shop&gt;"


def test_missing_template_is_a_500_without_internals(server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        page = client.get("/missing", headers=HTML)
        api = client.get("/missing")
        assert client.get("/page", params={"c": "still serving"}).status_code == 200
    assert page.status_code == 500 and api.status_code == 500
    for body in (page.text, api.text):
        assert "exist.html" not in body and "templates_app" not in body
        assert "Traceback" not in body
    assert re.search(r"Internal Server Error", page.text)
