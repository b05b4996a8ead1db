"""Prometheus metrics (gobstopper.ops.metrics), in-process."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gobstopper import Gobstopper
from gobstopper.ops.metrics import RequestCounts
from gobstopper.testing import AsyncTestClient, TestClient


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def series(route: str, status: str, method: str = "GET") -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"route": route, "status": status, "method": method}.items()))


def make_app() -> Gobstopper:
    app = Gobstopper("metrics")

    @app.get("/users/<int:id>")
    async def user(request, id):
        return {"id": id}

    @app.post("/users")
    def create(request):
        return {"ok": True}, 201

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("boom")

    app.enable_metrics()
    return app


def test_counts_by_route_template_method_and_status_class():
    app = make_app()
    with TestClient(app) as client:
        for path in ("/users/1", "/users/2", "/users/2", "/boom", "/nope", "/users/x"):
            client.get(path)
        client.post("/users")
        client.request("BREW", "/users/1")
        text = client.get("/metrics").text
    found = samples(text)
    total = "gobstopper_http_requests_total"
    assert found[(total, series("/users/<int:id>", "2xx"))] == 3
    assert found[(total, series("/users", "2xx", "POST"))] == 1
    assert found[(total, series("/boom", "5xx"))] == 1
    assert found[(total, series("<unmatched>", "4xx"))] == 2
    assert found[(total, series("<unmatched>", "4xx", "OTHER"))] == 1
    assert not any("/users/1" in dict(labels).get("route", "") for _, labels in found)
    count = "gobstopper_http_request_duration_seconds_count"
    assert found[(count, series("/users/<int:id>", "2xx"))] == 3
    inf = tuple(sorted({**dict(series("/users/<int:id>", "2xx")), "le": "+Inf"}.items()))
    assert found[("gobstopper_http_request_duration_seconds_bucket", inf)] == 3
    assert found[("gobstopper_http_requests_in_flight", ())] == 1  # the scrape itself


def test_scrapes_add_up_and_openmetrics_is_offered():
    app = make_app()
    with TestClient(app) as client:
        client.get("/users/1")
        client.get("/metrics")
        client.get("/users/1")
        second = client.get("/metrics")
        om = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    found = samples(second.text)
    assert found[("gobstopper_http_requests_total", series("/users/<int:id>", "2xx"))] == 2
    assert found[("gobstopper_http_requests_total", series("/metrics", "2xx"))] == 1
    assert second.headers["content-type"].startswith("text/plain")
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")


def test_buckets_hold_each_observation_once():
    counts = RequestCounts([0.1, 1.0])
    assert counts.bounds == (0.1, 1.0, float("inf"))

    class Req:
        url_rule = "/r"

        class scope:  # noqa: N801 - stands in for the RSGI scope
            method = "GET"

    class Resp:
        status = 200

    for seconds in (0.05, 0.1, 0.5, 3.0):
        counts.record(Req(), Resp(), seconds)
    row = counts.take()[("/r", "GET", 200)]
    assert row[1:] == [2, 1, 1]  # le=0.1 is inclusive, as in prometheus-client
    assert row[0] == 3.65
    assert counts.take() == {}


async def test_websocket_connections_and_task_depth_are_sampled_at_scrape(tmp_path):
    from gobstopper.tasks import TaskPriority, TaskQueue, TaskStorage

    app = Gobstopper("gauges")
    app.enable_metrics()
    app.task_queue = TaskQueue(
        enabled=True, storage_factory=lambda: TaskStorage(tmp_path / "t.duckdb")
    )

    @app.task("report", category="reports")
    async def report():
        return 1

    @app.task("quick")
    async def quick():
        return 1

    async with AsyncTestClient(app) as client:
        for _ in range(3):
            await app.task_queue.add_task("report", "reports", TaskPriority.HIGH)
        await app.task_queue.add_task("quick")
        app.lifecycle.websockets.add(object())  # type: ignore[arg-type]
        found = samples((await client.get("/metrics")).text)
        app.lifecycle.websockets.clear()
    assert found[("gobstopper_websocket_connections", ())] == 1
    tasks = {
        (dict(labels)["status"], dict(labels)["category"], dict(labels)["priority"]): v
        for (name, labels), v in found.items()
        if name == "gobstopper_tasks"
    }
    assert tasks == {("pending", "reports", "HIGH"): 3, ("pending", "default", "NORMAL"): 1}


def test_an_app_without_tasks_reports_no_task_series():
    app = make_app()
    with TestClient(app) as client:
        found = samples(client.get("/metrics").text)
    assert not any(name == "gobstopper_tasks" for name, _ in found)
    assert app.__dict__.get("_task_queue") is None


def test_refused_hosts_are_counted_and_carry_a_request_id():
    """The observer sits in the dispatcher: a 400 made before routing is seen too."""
    app = Gobstopper("hosts", allowed_hosts=["good.example"])

    @app.get("/")
    async def home(request):
        return "ok"

    app.enable_metrics()
    with TestClient(app) as client:
        refused = client.get("http://evil.example/")
        assert refused.status_code == 400
        assert refused.headers["x-request-id"]
        served = client.get("http://good.example/")
        assert served.headers["x-request-id"] != refused.headers["x-request-id"]
        found = samples(client.get("http://good.example/metrics").text)
    total = "gobstopper_http_requests_total"
    assert found[(total, series("<unmatched>", "4xx"))] == 1
    assert found[(total, series("/", "2xx"))] == 1


async def test_a_streamed_body_counts_in_the_request_duration():
    """The clock stops when the last chunk is sent, not when the handler returns."""
    import asyncio

    from gobstopper import StreamResponse

    app = Gobstopper("stream")
    durations: list[float] = []

    async def chunks():
        yield b"first"
        await asyncio.sleep(0.2)
        yield b"last"

    @app.get("/slow")
    async def slow(request):
        return StreamResponse(chunks())

    from gobstopper.ops.observer import observer_of

    observer_of(app).add(lambda request, response, seconds: durations.append(seconds))
    async with AsyncTestClient(app) as client:
        response = await client.get("/slow")
    assert response.content == b"firstlast"
    assert len(durations) == 1 and durations[0] >= 0.2


def test_a_failing_recorder_is_logged_and_the_others_still_count(caplog):
    """A recorder that raises costs its own record only: the answer and the metrics stand."""
    from gobstopper.ops.observer import observer_of

    app = make_app()

    def broken(request, response, seconds):
        raise RuntimeError("recorder bug")

    observer_of(app).add(broken)
    with caplog.at_level("ERROR", logger="gobstopper.dispatch"), TestClient(app) as client:
        answered = client.get("/users/1")
        found = samples(client.get("/metrics").text)
    assert answered.status_code == 200 and answered.json() == {"id": 1}
    assert found[("gobstopper_http_requests_total", series("/users/<int:id>", "2xx"))] == 1
    assert any("a request recorder failed" in r.getMessage() for r in caplog.records)
