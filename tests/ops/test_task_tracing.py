"""Task spans (gobstopper.ops.tracing.TaskTracing), with the SDK's memory exporter."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gobstopper import Gobstopper
from gobstopper.tasks import RedisTaskStorage, SQLiteTaskStorage, TaskQueue, TaskStatus
from gobstopper.testing import AsyncTestClient
from tests.tasks.helpers import wait_done


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def make_app(exporter: InMemorySpanExporter, queue: TaskQueue) -> Gobstopper:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("task code")
    app = Gobstopper("traced-tasks")
    app.task_queue = queue
    app.enable_tracing(provider)

    @app.task("resize")
    async def resize(size: int) -> int:
        with tracer.start_as_current_span("resize inner"):
            return size * 2

    @app.task("sync_resize")
    def sync_resize(size: int) -> int:
        with tracer.start_as_current_span("sync inner"):  # in the thread pool
            return size * 3

    @app.task("broken")
    async def broken() -> None:
        raise ValueError("bad input")

    @app.post("/jobs/<name>")
    async def queue_job(request, name):
        # "broken" gets one retry: two failed attempts.
        retries, args = (1, ()) if name == "broken" else (0, (4,))
        return {"id": await app.add_background_task(name, "default", None, retries, *args)}

    return app


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    spans: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        spans.setdefault(span.name, []).append(span)
    return spans


def sqlite_queue(tmp_path: Path) -> TaskQueue:
    return TaskQueue(
        enabled=True,
        storage_factory=lambda: SQLiteTaskStorage(tmp_path / "tasks.sqlite3"),
        backoff=lambda retry: 0.0,
    )


async def test_a_task_span_links_to_the_request_that_queued_it(exporter, tmp_path):
    app = make_app(exporter, sqlite_queue(tmp_path))
    # Workers started under a span inherit it; task spans must not become its children.
    starter = trace.NonRecordingSpan(trace.SpanContext(7, 9, is_remote=False))
    async with AsyncTestClient(app) as client:
        with trace.use_span(starter):
            await app.start_task_workers("default", 1)
        ids = [
            (await client.post(f"/jobs/{name}")).json()["id"] for name in ("resize", "sync_resize")
        ]
        done = [await wait_done(app.task_queue, task_id) for task_id in ids]
    assert [info.result for info in done] == [8, 12]
    spans = by_name(exporter)
    requests = spans["POST /jobs/<name>"]
    for task_name, inner_name, info, request_span in zip(
        ("resize", "sync_resize"), ("resize inner", "sync inner"), done, requests, strict=True
    ):
        (task,) = spans[f"task {task_name}"]
        assert info.trace_parent is not None
        assert info.trace_parent.split("-")[1:3] == [
            f"{request_span.context.trace_id:032x}",
            f"{request_span.context.span_id:016x}",
        ]
        assert task.kind is trace.SpanKind.CONSUMER
        assert task.parent is None  # its own trace, linked: not a child of the request
        (link,) = task.links
        assert (link.context.trace_id, link.context.span_id) == (
            request_span.context.trace_id,
            request_span.context.span_id,
        )
        assert dict(task.attributes) == {
            "messaging.system": "gobstopper",
            "messaging.operation.type": "process",
            "messaging.message.id": info.id,
            "messaging.destination.name": "default",
            "gobstopper.task.name": task_name,
            "gobstopper.task.retry_count": 0,
            "gobstopper.task.outcome": "success",
        }
        assert task.status.status_code is trace.StatusCode.UNSET
        (inner,) = spans[inner_name]
        assert inner.parent.span_id == task.context.span_id  # current while the function ran
        assert inner.context.trace_id == task.context.trace_id


async def test_failed_attempts_are_errors_with_the_exception(exporter, tmp_path):
    app = make_app(exporter, sqlite_queue(tmp_path))
    async with AsyncTestClient(app) as client:
        await app.start_task_workers("default", 1)
        task_id = (await client.post("/jobs/broken")).json()["id"]
        info = await wait_done(app.task_queue, task_id)
    assert info.status is TaskStatus.FAILED
    (request_span,) = by_name(exporter)["POST /jobs/<name>"]
    first, second = by_name(exporter)["task broken"]
    assert [span.attributes["gobstopper.task.retry_count"] for span in (first, second)] == [0, 1]
    assert [span.attributes["gobstopper.task.outcome"] for span in (first, second)] == [
        "retry",
        "failed",
    ]
    for span in (first, second):
        assert span.links[0].context.span_id == request_span.context.span_id
        assert span.status.status_code is trace.StatusCode.ERROR
        assert span.status.description == "ValueError: bad input"
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == "ValueError"
        assert event.attributes["exception.message"] == "bad input"
    assert first.context.trace_id != second.context.trace_id  # each attempt its own trace


async def test_queued_outside_a_span_or_without_tracing_nothing_is_kept(exporter, tmp_path):
    app = make_app(exporter, sqlite_queue(tmp_path))
    untraced = Gobstopper("untraced")
    (tmp_path / "other").mkdir()
    untraced.task_queue = sqlite_queue(tmp_path / "other")

    @untraced.task("noop")
    async def noop() -> None:
        return None

    async with AsyncTestClient(app), AsyncTestClient(untraced):
        await app.start_task_workers("default", 1)
        task_id = await app.add_background_task("resize", "default", None, 0, 1)
        plain_id = await untraced.add_background_task("noop")
        info = await wait_done(app.task_queue, task_id)
        plain = await untraced.task_queue.get_task_info(plain_id)
    assert info.trace_parent is None and plain is not None and plain.trace_parent is None
    (task,) = by_name(exporter)["task resize"]
    assert task.links == () and task.parent is None
    assert untraced.task_queue.observers == []


async def test_a_worker_in_another_queue_links_through_redis(exporter, redis_url):
    """The traceparent travels with the record: a second queue (another process) links to it."""
    prefix = f"test:{uuid.uuid4().hex}"

    def redis_queue() -> TaskQueue:
        return TaskQueue(
            enabled=True,
            storage_factory=lambda: RedisTaskStorage(redis_url, prefix=prefix),
            backoff=lambda retry: 0.0,
        )

    web = make_app(exporter, redis_queue())  # queues, runs no workers
    worker = make_app(exporter, redis_queue())
    async with AsyncTestClient(web) as client, AsyncTestClient(worker):
        task_id = (await client.post("/jobs/resize")).json()["id"]
        await worker.start_task_workers("default", 1)
        info = await wait_done(worker.task_queue, task_id)
    assert info.result == 8
    (request_span,) = by_name(exporter)["POST /jobs/<name>"]
    (task,) = by_name(exporter)["task resize"]
    assert task.links[0].context.trace_id == request_span.context.trace_id
    assert task.links[0].context.span_id == request_span.context.span_id
