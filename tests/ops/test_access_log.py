"""The access log (gobstopper.ops.access_log), in-process."""

from __future__ import annotations

import json
import logging

import pytest

from gobstopper import Gobstopper
from gobstopper.ops.access_log import FIELDS, JsonFormatter
from gobstopper.testing import TestClient


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access() -> Records:
    logger = logging.getLogger("test.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def make_app(access_logger: logging.Logger, **options) -> Gobstopper:
    app = Gobstopper("logged", **options)

    @app.get("/users/<int:id>")
    async def user(request, id):
        return "héllo"

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("boom")

    app.enable_access_log(access_logger)
    return app


def test_one_record_per_request_with_every_field(access):
    app = make_app(logging.getLogger("test.access"))
    with TestClient(app, client="10.0.0.7:5555") as client:
        ok = client.get("/users/7?q=1")
        client.get("/boom")
        client.get("/nope")
    assert len(access.records) == 3
    first, crashed, missing = access.records
    fields = {name: getattr(first, name) for name in FIELDS}
    assert fields["duration_ms"] >= 0
    fields.pop("duration_ms")
    assert fields == {
        "method": "GET",
        "route": "/users/<int:id>",
        "path": "/users/7",
        "status": 200,
        "bytes": len("héllo".encode()),
        "client_ip": "10.0.0.7",
        "request_id": ok.headers["x-request-id"],
    }
    assert first.getMessage().startswith("GET /users/7 200 ")
    assert (crashed.route, crashed.status) == ("/boom", 500)
    assert (missing.route, missing.status) == (None, 404)


def test_client_ip_and_request_id_come_from_a_trusted_proxy(access):
    app = make_app(logging.getLogger("test.access"), trusted_proxies=["10.0.0.0/8"])
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "edge-42"}
    with TestClient(app, client="10.0.0.7:5555") as client:
        client.get("/users/1", headers=headers)
    record = access.records[0]
    assert (record.client_ip, record.request_id) == ("203.0.113.9", "edge-42")


def test_nothing_is_built_when_info_is_off(access):
    logger = logging.getLogger("test.access")
    logger.setLevel(logging.WARNING)
    app = make_app(logger)
    with TestClient(app) as client:
        assert client.get("/users/1").headers["x-request-id"]
    assert access.records == []


def test_json_formatter_writes_one_object_per_line(access):
    app = make_app(logging.getLogger("test.access"))
    with TestClient(app) as client:
        client.get("/users/3")
    line = JsonFormatter().format(access.records[0])
    assert "\n" not in line
    data = json.loads(line)
    assert data["logger"] == "test.access" and data["level"] == "INFO"
    assert data["route"] == "/users/<int:id>" and data["status"] == 200
    assert data["time"].endswith("Z")
    assert set(FIELDS) <= set(data)


def test_json_option_installs_a_stderr_handler_once(capsys):
    logger = logging.getLogger("test.access.json")
    app = make_app(logger)
    from gobstopper.ops.access_log import enable_access_log

    enable_access_log(Gobstopper("other"), logger, json=True)
    assert len(logger.handlers) == 1
    assert isinstance(logger.handlers[0].formatter, JsonFormatter)
    with TestClient(app) as client:
        client.get("/users/1")
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["path"] == "/users/1"
    logger.handlers.clear()
