"""Files, ranges, static folders, streams and SSE under a real Granian server."""

from __future__ import annotations

import http.client
import os
import socket
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from gobstopper.middleware.static import RustStaticMiddleware, granian_static_options
from tests.middleware.static_tree import CSS, DOUBLE_ENCODED, ESCAPES, SECRET, make_tree
from tests.servers import INTERFACES, granian_server

pytestmark = pytest.mark.e2e

BIG_SIZE = 200 * 1024 * 1024
DEADLINE = 10.0


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("responses")
    static = make_tree(base)
    (static / "app.js").write_text("console.log(1)")
    (static / "app.js.br").write_bytes(b"fake-brotli")
    files = base / "files"
    files.mkdir()
    (files / "report.csv").write_text("a,b\n")
    os.symlink(base / "secret.txt", files / "leak.txt")
    with open(base / "big.bin", "wb") as handle:
        handle.truncate(BIG_SIZE)  # sparse: costs no disk
    return base


@pytest.fixture(scope="module", params=INTERFACES)
def server(request, root, tmp_path_factory):
    env = {"RESPONSES_ROOT": str(root)}
    with granian_server(
        "responses_app:app", tmp_path_factory.mktemp("srv"), env=env, interface=request.param
    ) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as http_client:
        yield http_client


def raw_get(port: int, target: str, headers: dict[str, str] | None = None):
    """GET ``target`` exactly as written (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {"accept": "application/json"}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raw_socket_get(port: int, target: bytes) -> bytes:
    """Send a request line with bytes http.client refuses (NUL); return the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            data = sock.recv(65536)
            if not data:
                break
            received += data
        return received


def wait_for_file(path: Path, deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if path.exists():
            return True
        time.sleep(0.05)
    return path.exists()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# -- FileResponse --------------------------------------------------------------------
def test_file_response_full_head_and_404(client):
    full = client.get("/file")
    assert full.status_code == 200 and full.content == bytes(range(256))
    assert full.headers["content-disposition"] == 'attachment; filename="data.bin"'
    assert full.headers["content-length"] == "256"
    assert full.headers["etag"] and full.headers["last-modified"]
    head = client.head("/file")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "256"
    assert client.get("/missing").status_code == 404
    assert client.head("/missing").status_code == 404


def test_file_response_range_and_304(client):
    data = bytes(range(256))
    full = client.get("/file")
    part = client.get("/file", headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == "bytes 10-19/256"
    tail = client.get("/file", headers={"range": "bytes=-6"})
    assert tail.status_code == 206 and tail.content == data[-6:]
    bad = client.get("/file", headers={"range": "bytes=300-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == "bytes */256"
    cached = client.get("/file", headers={"if-none-match": full.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
    since = client.get("/file", headers={"if-modified-since": full.headers["last-modified"]})
    assert since.status_code == 304
    assert client.head("/file", headers={"if-none-match": full.headers["etag"]}).status_code == 304


def test_send_from_directory_under_granian(server, client):
    ok = client.get("/download/report.csv")
    assert ok.status_code == 200 and ok.text == "a,b\n"
    assert ok.headers["content-disposition"] == 'attachment; filename="report.csv"'
    for attempt in (
        "/download/../secret.txt",
        "/download/%2e%2e%2fsecret.txt",
        "/download/leak.txt",
        "/download/..%5csecret.txt",
    ):
        status, body = raw_get(server.port, attempt)
        assert status == 404, attempt
        assert SECRET not in body


def test_big_file_does_not_grow_worker_memory(client):
    worker = client.get("/pid").json()["pid"]
    before = rss_kib(worker)
    peak, received = before, 0
    with client.stream("GET", "/big") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(BIG_SIZE)
        for n, chunk in enumerate(response.iter_bytes(1024 * 1024)):
            received += len(chunk)
            if n % 8 == 0:
                peak = max(peak, rss_kib(worker))
    after = rss_kib(worker)
    assert received == BIG_SIZE
    growth_mib = (max(peak, after) - before) / 1024
    assert growth_mib < 8, f"worker RSS grew by {growth_mib:.1f} MiB while sending 200 MiB"


# -- static middleware and blueprint folders ------------------------------------------
def test_static_middleware_headers_304_head_range(client):
    result = client.get("/static/app.css")
    assert result.status_code == 200 and result.content == CSS
    assert result.headers["cache-control"] == "public, max-age=3600"
    assert result.headers["content-type"] == "text/css"
    assert result.headers["content-length"] == str(len(CSS))
    assert (
        client.get("/static/app.css", headers={"if-none-match": result.headers["etag"]}).status_code
        == 304
    )
    head = client.head("/static/app.css")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(CSS))
    part = client.get("/static/data.bin", headers={"range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == bytes(range(4))
    assert client.get("/static/absent.css").status_code == 404
    blueprint = client.get("/bp/static/app.css")
    assert blueprint.status_code == 200 and blueprint.content == CSS


@pytest.mark.parametrize("prefix", ["/static", "/bp/static", "/rs", "/hy"])
@pytest.mark.parametrize("attempt", ESCAPES + DOUBLE_ENCODED)
def test_escape_attempts_over_the_wire(server, prefix, attempt):
    target = prefix + attempt[len("/static") :]
    status, body = raw_get(server.port, target)
    assert status in (400, 403, 404), target
    assert SECRET not in body and b"root:" not in body
    # The blueprint's route never matches an empty segment ("//"): the router's 404.
    routed = prefix != "/bp/static" or "//" not in unquote(attempt)
    if attempt in ESCAPES and routed:
        assert status == 403, target


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        ("/static/../secret.txt", "/static/../no-such-file.txt"),
        ("/static/%2e%2e/secret.txt", "/static/%2e%2e/no-such-file.txt"),
        ("/static/%2e%2e%2fsecret.txt", "/static/%2e%2e%2fno-such-file.txt"),
        ("/static/link.txt", "/static/deadlink.txt"),
        ("/static/linkdir/secret.txt", "/static/linkdir/no-such-file.txt"),
        ("/bp/static/../secret.txt", "/bp/static/../no-such-file.txt"),
        ("/bp/static/linkdir/secret.txt", "/bp/static/linkdir/no-such-file.txt"),
    ],
)
def test_outside_files_cannot_be_probed(server, existing, missing):
    for accept in ("application/json", "text/html"):
        assert raw_get(server.port, existing, {"accept": accept}) == raw_get(
            server.port, missing, {"accept": accept}
        )


def test_raw_nul_and_encoded_nul(server):
    reply = raw_socket_get(server.port, b"/static/app.css\x00.png")
    assert reply.startswith(b"HTTP/1.1 4") and CSS not in reply
    status, body = raw_get(server.port, "/static/app.css%00.png")
    assert status == 403 and CSS not in body


def test_hybrid_serves_precompressed_through_granian(client):
    result = client.get("/hy/app.js", headers={"accept-encoding": "br"})
    assert result.headers["content-encoding"] == "br"
    assert result.headers["vary"] == "Accept-Encoding"


def test_rust_static_without_granian_mount_falls_back_to_python(client):
    result = client.get("/rs/app.css")
    assert result.status_code == 200 and result.content == CSS
    assert result.headers["cache-control"] == "public, max-age=3600"  # ours, not Granian's


def test_rust_static_mounted_on_granian(root, tmp_path):
    options = granian_static_options(_app_with_rust(root))
    args = []
    for route, mount in zip(
        options["static_path_route"], options["static_path_mount"], strict=True
    ):
        args += ["--static-path-route", route, "--static-path-mount", str(mount)]
    args += ["--static-path-expires", str(options["static_path_expires"])]
    env = {"RESPONSES_ROOT": str(root)}
    with granian_server("responses_app:app", tmp_path, env=env, extra_args=tuple(args)) as srv:
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            result = client.get("/rs/app.css")
            assert result.status_code == 200 and result.content == CSS
            assert result.headers["cache-control"] == "max-age=120"  # Granian's header
            assert "etag" not in result.headers  # Python never saw this request
            assert client.get("/static/app.css").headers["cache-control"] == (
                "public, max-age=3600"
            )
        for attempt in ESCAPES + DOUBLE_ENCODED:
            status, body = raw_get(srv.port, "/rs" + attempt[len("/static") :])
            assert status in (400, 403, 404) and SECRET not in body, attempt


def _app_with_rust(root: Path):
    from gobstopper import Gobstopper

    app = Gobstopper()
    app.add_middleware(RustStaticMiddleware(str(root / "static"), "/rs", expires=120))
    return app


# -- streams and SSE --------------------------------------------------------------------
def test_ten_thousand_sse_events_arrive_in_order(client):
    ids, data = [], []
    with client.stream("GET", "/sse", params={"n": 10_000}) as response:
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            elif line.startswith("data: event "):
                data.append(int(line[len("data: event ") :]))
    assert ids == list(range(10_000))
    assert data == list(range(10_000))


def test_sse_resumes_from_last_event_id(client):
    text = client.get("/sse", params={"n": 3}, headers={"last-event-id": "99"}).text
    assert [line for line in text.splitlines() if line.startswith("id:")] == [
        "id: 100",
        "id: 101",
        "id: 102",
    ]
    assert "data: line two" in text


def test_sse_keep_alive_comments_over_the_wire(client):
    text = client.get("/quiet").text
    assert text.startswith("data: first\n\n") and text.endswith("data: second\n\n")
    assert 2 <= text.count(": keep-alive\n\n") <= 6


FIRST_CHUNK = {"/forever": b"chunk 0\n", "/idle": b"id: 1\ndata: hello\n\n"}


@pytest.mark.parametrize("path", ["/forever", "/idle"])
def test_client_disconnect_closes_generator_quietly(server, root, client, path):
    tag = f"{path.strip('/')}-{time.monotonic_ns()}"
    with client.stream("GET", path, params={"tag": tag}) as response:
        first = next(response.iter_raw())
        assert first.startswith(FIRST_CHUNK[path]), first
    # Leaving the block closes the connection mid-stream.
    assert wait_for_file(root / "markers" / tag), "generator's finally did not run"
    assert client.get("/pid").status_code == 200
    log = server.log()
    assert "Traceback" not in log and "RSGIProtocolClosed" not in log
