"""The task dashboard in headless Chromium over a real Granian server.

Every test runs twice: with tasks in DuckDB, and in a real redis-server.
"""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

import httpx
import pytest

from tests.browser import Browser, headless_chromium
from tests.servers import RunningServer, granian_server

pytestmark = pytest.mark.e2e

BOARD = "/admin/tasks"
STATUS = 'return document.getElementById("status").textContent'
PERCENT = 'return document.getElementById("percent").textContent'


@pytest.fixture(scope="module", params=["duckdb", "redis"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    env = {"FLAKY_FIXED": str(tmp / "flaky-fixed"), "CRUNCH_STEP": "0.4"}
    if request.param == "redis":
        env["DASHBOARD_REDIS"] = request.getfixturevalue("redis_url")
        env["DASHBOARD_PREFIX"] = f"dashboard:{uuid.uuid4().hex}"
    else:
        env["DASHBOARD_DB"] = str(tmp / "tasks.duckdb")
    with granian_server("dashboard_app:app", tmp, env=env) as running:
        running.flaky_fixed = tmp / "flaky-fixed"
        yield running


@pytest.fixture(scope="module")
def browser(server: RunningServer, tmp_path_factory: pytest.TempPathFactory):
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as running:
        running.open(server.url + BOARD + "/")
        running.run('document.cookie = "role=admin; path=/"')
        running.console_errors()  # the 403 before the cookie
        yield running


def enqueue(server: RunningServer, name: str) -> str:
    return httpx.get(f"{server.url}/enqueue/{name}", timeout=10).json()["id"]


def test_the_dashboard_refuses_to_exist_without_an_auth_hook():
    from gobstopper.ops.dashboard import tasks_dashboard
    from gobstopper.tasks import TaskQueue

    with pytest.raises(TypeError, match="needs authorize="):
        tasks_dashboard(TaskQueue(enabled=False))


def test_strangers_get_403(server: RunningServer):
    assert httpx.get(server.url + BOARD + "/", timeout=10).status_code == 403


def assert_screenshot(browser: Browser, path: Path) -> None:
    """Save the page as a PNG in the test's output and check it is a real picture of it."""
    png = browser.screenshot(path)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert width >= 400 and height >= 300, (width, height)


def test_a_queued_task_progresses_and_finishes_live(
    server: RunningServer, browser: Browser, tmp_path: Path
):
    task_id = enqueue(server, "crunch")
    browser.open(f"{server.url}{BOARD}/task/{task_id}")
    browser.run("window.sameDocument = true")
    seen: list[str] = []

    def finished(state: list[str]) -> bool:
        seen.append(state[1])
        return state[0] == "success"

    browser.wait_for(
        'return [document.getElementById("status").textContent,'
        ' document.getElementById("percent").textContent]',
        finished,
        timeout=20,
    )
    assert browser.run("return window.sameDocument === true")  # updated in place, no reload
    assert any(p not in ("0%", "100%") for p in seen), seen  # an intermediate step was shown
    assert browser.run(PERCENT) == "100%"
    assert browser.run('return document.getElementById("message").textContent') == "step 5 of 5"
    assert_screenshot(browser, tmp_path / "task-detail.png")
    assert [e for e in browser.console_errors() if "favicon" not in e] == []


def test_the_list_follows_its_rows_and_signals_new_tasks(
    server: RunningServer, browser: Browser, tmp_path: Path
):
    task_id = enqueue(server, "crunch")
    browser.open(f"{server.url}{BOARD}/?q={task_id}")
    browser.run("window.sameDocument = true")
    cells = (
        f"const row = document.querySelector('tr[data-task-id=\"{task_id}\"]');"
        ' return [row.querySelector(".status").textContent,'
        ' row.querySelector(".progress").textContent]'
    )
    finished = browser.wait_for(cells, lambda state: state[0] == "success", timeout=20)
    assert finished == ["success", "100%"]
    assert_screenshot(browser, tmp_path / "task-list.png")
    assert browser.run("return window.sameDocument === true")  # updated in place, no reload
    assert browser.run('return document.getElementById("new-tasks").hidden') is True
    browser.open(f"{server.url}{BOARD}/?category=parked&status=pending")
    enqueue(server, "parked")
    enqueue(server, "crunch")  # another category: not counted on this page
    note = browser.wait_for(
        'const a = document.getElementById("new-tasks"); return a.hidden ? "" : a.textContent',
        lambda text: text != "",
    )
    assert note == "1 new task: show"
    browser.click("#new-tasks")
    browser.wait_for('return document.getElementById("new-tasks").hidden', bool)
    assert [e for e in browser.console_errors() if "favicon" not in e] == []


def test_a_failed_task_is_retried_from_its_page(server: RunningServer, browser: Browser):
    task_id = enqueue(server, "flaky")
    browser.open(f"{server.url}{BOARD}/task/{task_id}")
    browser.wait_for(STATUS, lambda status: status == "failed", timeout=15)
    assert "flaky failed" in browser.run('return document.getElementById("error").textContent')
    server.flaky_fixed.touch()
    browser.click("#retry")
    outcome = browser.wait_for(
        'const o = document.getElementById("outcome"); return o ? o.textContent : ""',
        lambda text: text != "",
    )
    assert outcome == "Queued again."
    browser.wait_for(STATUS, lambda status: status == "success", timeout=15)


def test_a_pending_task_is_cancelled_and_listed(server: RunningServer, browser: Browser):
    task_id = enqueue(server, "parked")
    browser.open(f"{server.url}{BOARD}/task/{task_id}")
    assert browser.run(STATUS) == "pending"
    browser.click("#cancel")
    browser.wait_for(
        'const o = document.getElementById("outcome"); return o ? o.textContent : ""',
        lambda text: text == "Cancelled.",
    )
    assert browser.run(STATUS) == "cancelled"
    browser.open(f"{server.url}{BOARD}/?status=cancelled&q=park")
    rows = browser.run(
        'return [...document.querySelectorAll("#tasks tbody tr")].map(r => r.dataset.taskId)'
    )
    assert rows == [task_id]
    browser.open(f"{server.url}{BOARD}/?category=parked&status=pending&q={task_id}")
    assert browser.run('return document.getElementById("count").textContent') == "0 tasks"


def test_retry_and_cancel_need_the_csrf_token(server: RunningServer, browser: Browser):
    task_id = enqueue(server, "parked")
    cookies = {"role": "admin"}
    with httpx.Client(base_url=server.url, cookies=cookies, timeout=10) as client:
        page = client.get(f"{BOARD}/task/{task_id}")  # gets a session and a token
        assert page.status_code == 200
        refused = client.post(f"{BOARD}/task/{task_id}/cancel", data={})
        assert refused.status_code == 403
        wrong = client.post(f"{BOARD}/task/{task_id}/cancel", data={"csrf_token": "forged"})
        assert wrong.status_code == 403
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = client.post(f"{BOARD}/task/{task_id}/cancel", data={"csrf_token": token})
        assert done.status_code == 303
        assert done.headers["location"] == f"{BOARD}/task/{task_id}?done=cancel-ok"


def test_paging_and_unknown_tasks(server: RunningServer):
    with httpx.Client(base_url=server.url, cookies={"role": "admin"}, timeout=10) as client:
        for _ in range(26):
            enqueue(server, "parked")
        first = client.get(f"{BOARD}/?category=parked&page=1")
        second = client.get(f"{BOARD}/?category=parked&page=2")
        assert first.text.count("data-task-id=") == 25
        assert 'rel="next"' in first.text and 'rel="prev"' in second.text
        assert client.get(f"{BOARD}/?category=parked&page=7").text.count("data-task-id=") >= 1
        assert client.get(f"{BOARD}/?page=abc").status_code == 400
        assert client.get(f"{BOARD}/?status=lost").status_code == 400
        assert client.get(f"{BOARD}/task/nope").status_code == 404
        script = client.get(f"{BOARD}/dashboard.js")
        assert script.headers["content-type"].startswith("text/javascript")
