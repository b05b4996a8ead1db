"""The README's showcase command serves a working app (``gobstopper run``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def showcase(tmp_path_factory):
    folder = tmp_path_factory.mktemp("showcase")
    port = free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gobstopper",
            "run",
            "examples.showcase:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SHOWCASE_TASKS_DB": str(folder / "t.duckdb")},
    )
    try:
        wait_for_port(port, process, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def test_showcase_pages_api_and_tasks(showcase):
    with httpx.Client(base_url=showcase, timeout=10) as client:
        index = client.get("/")
        assert index.status_code == 200 and "Gobstopper showcase" in index.text
        assert "server-timing" in index.headers
        assert client.get("/hello/world").text == "Hello, world!"
        created = client.post("/api/notes", json={"title": "<b>first</b>"})
        assert created.status_code == 201 and created.json()["title"] == "<b>first</b>"
        assert (
            client.post("/api/notes", json={"body": "no title"}).status_code == 422
        )  # a typed body: validation is a 422
        page = client.get("/").text
        assert "&lt;b&gt;first" in page and "<b>first</b>" not in page
        assert client.get("/api/notes/999").status_code == 404
        with client.stream("GET", "/stream") as stream:
            assert b"tick 4" in b"".join(stream.iter_bytes())
        task_id = client.post("/api/tasks/count", json={"text": "one two three"}).json()["task_id"]
        deadline = time.monotonic() + 20
        status = {}
        while time.monotonic() < deadline:
            status = client.get(f"/api/tasks/{task_id}").json()
            if status["status"] == "success":
                break
            time.sleep(0.1)
        assert status == {"status": "success", "result": {"words": 3}}


def test_showcase_guestbook_uses_session_and_csrf(showcase):
    with httpx.Client(base_url=showcase, timeout=10) as client:
        page = client.get("/")
        assert page.headers["x-frame-options"] == "DENY"
        assert "session_id" in client.cookies
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        refused = client.post("/guestbook", data={"name": "Mallory"})
        assert refused.status_code == 403
        signed = client.post("/guestbook", data={"name": "Ada", "csrf_token": token})
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        page = client.get("/").text
        assert "<li>Ada</li>" in page and "Mallory" not in page
    with httpx.Client(base_url=showcase, timeout=10) as stranger:
        assert "<li>Ada</li>" not in stranger.get("/").text


def test_showcase_api_cors_idempotency_and_rate_limit(showcase):
    with httpx.Client(base_url=showcase, timeout=10) as client:
        preflight = client.options(
            "/api/notes",
            headers={
                "origin": "http://localhost:3000",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, idempotency-key",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        headers = {"idempotency-key": "showcase-test-key", "origin": "http://localhost:3000"}
        first = client.post("/api/notes", json={"title": "once"}, headers=headers)
        again = client.post("/api/notes", json={"title": "once"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert first.headers["access-control-allow-origin"] == "http://localhost:3000"
        titles = [note["title"] for note in client.get("/api/notes").json()["notes"]]
        assert titles.count("once") == 1
        statuses = [
            client.post("/api/notes", json={"title": f"n{i}"}).status_code for i in range(30)
        ]
        assert 429 in statuses and statuses[0] == 201
        limited = client.post("/api/notes", json={"title": "late"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Request body required (CountRequest)"),
        ([1, 2], "Expected `object`, got `array`"),
        ("string", "Expected `object`, got `str`"),
        ({"words": "one"}, "Object missing required field `text`"),
        ({"text": 3}, "Expected `str`, got `int` - at `$.text`"),
    ],
)
def test_showcase_answers_a_bad_task_body_with_a_422_naming_the_problem(showcase, body, message):
    with httpx.Client(base_url=showcase, timeout=10) as client:
        response = (
            client.post("/api/tasks/count", json=body)
            if body is not None
            else client.post("/api/tasks/count")
        )
    assert response.status_code == 422
    assert message in response.json()["error"]


def test_the_showcase_documents_its_api_and_keeps_every_promise(showcase, tmp_path):
    with httpx.Client(base_url=showcase, timeout=10) as client:
        document = client.get("/openapi.json").json()
        assert document["openapi"].startswith("3.1") and "/api/notes" in document["paths"]
        page = client.get("/docs")
        assert page.status_code == 200 and "swagger" in page.text.lower()
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{showcase}/openapi.json",
            "--no-color",
            "--workers",
            "1",
            "--seed",
            "20241204",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "20",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=240,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
