"""Operations against a real Granian server: probes at SIGTERM, scrapes, the access log."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.event_file import wait_for_event
from tests.servers import RunningServer, granian_server

pytestmark = pytest.mark.e2e


def requests_total(text: str) -> dict[tuple[str, str, str], float]:
    """``{(route, method, status class): count}`` from a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name == "gobstopper_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    key = (labels["route"], labels["method"], labels["status"])
                    found[key] = sample.value
    return found


def send_mix(server: RunningServer) -> list[httpx.Response]:
    """3 x /users/<id>, 1 POST, 1 crash, 2 unrouted — each on a fresh connection."""
    sent = []
    for method, path in [
        ("GET", "/users/1"),
        ("GET", "/users/2"),
        ("GET", "/users/2"),
        ("POST", "/users"),
        ("GET", "/boom"),
        ("GET", "/nope"),
        ("DELETE", "/users/1"),
    ]:
        sent.append(httpx.request(method, server.url + path, timeout=10))
    return sent


EXPECTED = {
    ("/users/<int:id>", "GET", "2xx"): 3,
    ("/users", "POST", "2xx"): 1,
    ("/boom", "GET", "5xx"): 1,
    ("<unmatched>", "GET", "4xx"): 1,
    ("<unmatched>", "DELETE", "4xx"): 1,
}


def test_readiness_turns_503_at_sigterm_before_the_drain_ends(tmp_path):
    # A probe is in flight when SIGTERM arrives (its check takes 1 s), so Granian keeps its
    # connection open and the app answers it; the slow request keeps the drain going.
    events = tmp_path / "events.txt"
    env = {"OPS_EVENTS": str(events), "WOPR_SHUTDOWN_TIMEOUT": "10", "OPS_CHECK_DELAY": "1"}
    with granian_server("ops_app:app", tmp_path, env=env) as server:
        wait_for_event(events, "startup")
        before = httpx.get(server.url + "/readyz", timeout=10)
        assert before.status_code == 200
        results: dict = {}

        def call(name: str, path: str) -> None:
            response = httpx.get(server.url + path, timeout=30)
            results[name] = (response.status_code, response.text, time.monotonic())

        slow = threading.Thread(target=call, args=("slow", "/slow?s=4"))
        slow.start()
        wait_for_event(events, "slow-start")
        probe = threading.Thread(target=call, args=("probe", "/readyz"))
        probe.start()
        wait_for_event(events, "check-start", count=2)  # the second: this probe's check
        os.killpg(server.process.pid, signal.SIGTERM)
        probe.join(30)
        assert slow.is_alive()  # the drain is still going
        try:  # later probes: refused by the stopping server, or 503
            later = httpx.get(server.url + "/readyz", timeout=5).status_code
        except httpx.TransportError:
            later = "refused"
        slow.join(30)
        code = server.process.wait(30)
    status, body, answered_at = results["probe"]
    assert (status, json.loads(body)) == (503, {"status": "stopping"})
    assert results["slow"][:2] == (200, "slow done")
    assert answered_at < results["slow"][2]
    assert later in (503, "refused")
    assert code == 0


def test_readiness_follows_its_checks(tmp_path):
    flag = tmp_path / "maintenance"
    env = {"OPS_MAINTENANCE_FILE": str(flag)}
    with granian_server("ops_app:app", tmp_path, env=env) as server:
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        flag.touch()
        ready = httpx.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "failed": ["not_in_maintenance"]}
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_scrape_counts_a_known_mix_exactly_and_logs_each_request(tmp_path):
    with granian_server("ops_app:app", tmp_path) as server:
        sent = send_mix(server)
        scrape = httpx.get(server.url + "/metrics", timeout=10)
        log = server.log()
    assert [r.status_code for r in sent] == [200, 200, 200, 201, 500, 404, 405]
    assert scrape.headers["content-type"].startswith("text/plain")
    counts = requests_total(scrape.text)
    # DELETE /users/1 is a 405 from the router: no route ran, so it is <unmatched>.
    assert counts == EXPECTED
    records = [json.loads(line) for line in log.splitlines() if line.startswith('{"time"')]
    by_id = {record["request_id"]: record for record in records}
    for response in sent:
        record = by_id[response.headers["x-request-id"]]
        assert record["status"] == response.status_code
        assert record["path"] == response.request.url.path
        assert record["client_ip"] == "127.0.0.1"
    assert by_id[sent[1].headers["x-request-id"]]["route"] == "/users/<int:id>"


def test_two_workers_share_counts_through_the_multiprocess_directory(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "OPS_FLUSH_INTERVAL": "0.2"}
    with granian_server("ops_app:app", tmp_path, workers=2, env=env) as server:
        pids: set[int] = set()
        sent = 0
        end = time.monotonic() + 20
        while (len(pids) < 2 or sent < 20) and time.monotonic() < end:
            pids.add(httpx.get(f"{server.url}/users/{sent}", timeout=10).json()["pid"])
            sent += 1
        assert len(pids) == 2, "both workers should have served requests"
        end = time.monotonic() + 10
        while time.monotonic() < end:
            counts = requests_total(httpx.get(server.url + "/metrics", timeout=10).text)
            if counts.get(("/users/<int:id>", "GET", "2xx")) == sent:
                break
            time.sleep(0.1)
        assert counts[("/users/<int:id>", "GET", "2xx")] == sent
        assert len({name.split("_")[-1] for name in os.listdir(shared)}) >= 2  # one file per pid
