"""The foundation under a real Granian server, with httpx."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.servers import INTERFACES, granian_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=INTERFACES)
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("basic")
    with granian_server("basic_app:app", folder, interface=request.param) as running:
        yield running


def test_routes_params_blueprints_and_sync_handlers(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/").json()["started"] is True
        assert client.get("/users/42", params={"q": "x"}).json() == {"user_id": 42, "q": "x"}
        assert client.get("/users/abc").status_code == 400
        assert client.get("/sync").text == "sync ok"
        assert client.get("/api/ping").json() == {"pong": True}
        assert client.post("/echo", content=b"\x00\x01raw").content == b"\x00\x01raw"


def test_errors_do_not_leak_and_unknown_paths_are_escaped(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        boom = client.get("/boom", headers={"accept": "text/html"})
        assert boom.status_code == 500
        assert "secret internals" not in boom.text and "Traceback" not in boom.text
        missing = client.get("/<script>alert(1)</script>", headers={"accept": "text/html"})
        assert missing.status_code == 404
        assert "<script>alert(1)</script>" not in missing.text
        wrong = client.delete("/")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"


def test_head_has_headers_and_no_body(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        head = client.head("/users/7")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == "application/json"


def test_server_survives_bad_requests(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        started = time.monotonic()
        assert client.get("/users/" + "9" * 400).status_code == 400
        assert client.get("/" + "a" * 9000).status_code in (404, 414)
        many = "&".join(f"k{i}=v" for i in range(5_000))
        assert client.get(f"/users/1?{many}").status_code == 400
        assert time.monotonic() - started < 10
        assert client.get("/").status_code == 200
