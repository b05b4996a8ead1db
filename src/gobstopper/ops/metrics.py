"""Prometheus metrics: requests by route template, in-flight, WebSockets, tasks.

Per request the hot path only adds to plain Python counters (one dict lookup,
one ``bisect``, three integer/float additions); so does each task attempt
(a ``TaskObserver`` on the app's task queue, in the process that ran it).
They are pushed into prometheus-client's metric objects at each scrape, and,
in multiprocess mode, every ``flush_interval`` seconds. Request labels are the
route template (``/users/<int:id>``, never the raw path; ``<unmatched>`` when
no route matched), the method (``OTHER`` for non-standard ones) and the
status class (``2xx``); task labels are the registered task name, its
category and the attempt's outcome.

Several workers: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
shared by the workers (and cleared before the server starts). prometheus-client
then keeps each worker's values in a file there and a scrape of any worker
sums them all (its multiprocess mode). Counts from other workers are at most
``flush_interval`` old; a worker's gauges are removed when it stops. The
rooms gauge stays one series per worker (a ``pid`` label): a room may have
members in several workers, so a sum would count it more than once.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from gobstopper.config import prometheus_multiprocess_dir

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import BaseResponse
    from gobstopper.tasks.models import TaskInfo

#: Latency buckets in seconds (prometheus-client's defaults, plus 25 ms and 250 ms).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
#: Task attempt buckets in seconds: tasks run from milliseconds to minutes.
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
UNMATCHED = "<unmatched>"
#: The task label of attempts at a task this process has not registered.
UNREGISTERED = "<unregistered>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` when set (prometheus-client's multiprocess mode)."""
    return prometheus_multiprocess_dir()


class Observations:
    """Sums and bucket counts of durations per key, in plain Python.

    ``take()`` hands over what was recorded since the last call.
    """

    __slots__ = ("bounds", "first", "series")

    def __init__(self, buckets: Sequence[float]) -> None:
        finite = sorted({float(b) for b in buckets} - {float("inf")})
        self.bounds = (*finite, float("inf"))
        self.first = self.bounds[0]
        #: key -> [sum of seconds, count per bucket (not cumulative)...]
        self.series: dict[Any, list[Any]] = {}

    def add(self, key: Hashable, seconds: float) -> None:
        """Count one observation of ``seconds`` under ``key``."""
        row = self.series.get(key)
        if row is None:
            row = self.series[key] = [0.0] + [0] * len(self.bounds)
        row[0] += seconds
        row[1 + bisect_left(self.bounds, seconds)] += 1

    def take(self) -> dict[Any, list[Any]]:
        """What was recorded since the last ``take`` (and forget it)."""
        taken, self.series = self.series, {}
        return taken


class RequestCounts(Observations):
    """Counts and latency buckets per ``(route, method, status)``."""

    __slots__ = ()

    def record(self, request: Request, response: BaseResponse, seconds: float) -> None:
        """Add one request (a ``RequestObserver`` recorder)."""
        # PERF: ``add`` inlined, with the route template set by the dispatcher on
        # match. Positive indexes only, and the first bucket (5 ms: most requests)
        # without a bisect: ~0.14 us less than ``row[bisect(...)]`` and ``row[-1]``.
        key = (request.url_rule, request.scope.method, response.status)
        row = self.series.get(key)
        if row is None:
            row = self.series[key] = [0.0] + [0] * len(self.bounds)
        row[0] += seconds
        if seconds <= self.first:
            row[1] += 1
        else:
            row[1 + bisect_left(self.bounds, seconds)] += 1


class TaskAttempts(Observations):
    """Task attempts per ``(task name, category, outcome)``: a ``TaskObserver``.

    The outcome is the status the attempt left the task in: ``success``,
    ``retry`` (failed, runs again) or ``failed`` (for good).
    """

    __slots__ = ()

    def task_queued(self, info: TaskInfo) -> None:
        """Nothing to count when a task is queued (the store counts tasks)."""

    def task_running(self, info: TaskInfo) -> AbstractContextManager[object]:
        """No context: an attempt is counted when it ends."""
        return nullcontext()

    def attempt_ended(self, info: TaskInfo, seconds: float, error: BaseException | None) -> None:
        """Count the attempt under its task, category and outcome."""
        self.add((info.name, info.category, info.status.value), seconds)


def _add_to_histogram(child: Any, row: Sequence[Any]) -> None:
    """Add an ``Observations`` row (sum, then non-cumulative bucket counts) to ``child``."""
    # NOTE: prometheus-client has no public "add N observations" call; its
    # Histogram keeps one value per bucket (not cumulative) and a sum, which
    # is what we add to. Pinned by tests/ops/test_metrics.py.
    child._sum.inc(row[0])
    for bucket, count in zip(child._buckets, row[1:], strict=True):
        if count:
            bucket.inc(count)


class Metrics:
    """An app's metric objects and the plain counters feeding them."""

    def __init__(
        self,
        app: Any,
        namespace: str = "gobstopper",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        flush_interval: float = 1.0,
        task_buckets: Sequence[float] = TASK_BUCKETS,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.app = app
        self.counts = RequestCounts(buckets)
        self.attempts = TaskAttempts(task_buckets)
        self.flush_interval = flush_interval
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("route", "method", "status")
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template, method and status class.",
            labels,
            namespace=namespace,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival until its response, a streamed body included, "
            "was sent.",
            labels,
            namespace=namespace,
            buckets=self.counts.bounds,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being handled (the scrape included).",
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.websockets = Gauge(
            "websocket_connections",
            "Open WebSocket connections.",
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.websocket_rooms = Gauge(
            "websocket_rooms",
            "WebSocket rooms with a member connected to this worker.",
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.tasks = Gauge(
            "tasks",
            "Stored tasks by status, category and priority (every task the store keeps).",
            ("status", "category", "priority"),
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        task_labels = ("task", "category")
        self.task_duration = Histogram(
            "task_duration_seconds",
            "Run time of task attempts in this process, by task, category and outcome.",
            (*task_labels, "outcome"),
            namespace=namespace,
            buckets=self.attempts.bounds,
            registry=self.registry,
        )
        self.task_retries = Counter(
            "task_retries",
            "Failed task attempts that will run again.",
            task_labels,
            namespace=namespace,
            registry=self.registry,
        )
        self.task_failures = Counter(
            "task_failures",
            "Tasks that failed for good (no retry left, or not retryable).",
            task_labels,
            namespace=namespace,
            registry=self.registry,
        )
        self._task_series: set[tuple[str, str, str]] = set()
        self._timer: asyncio.TimerHandle | None = None

    # -- pushing plain counts into prometheus-client ---------------------------
    def flush(self) -> None:
        """Move recorded requests and task attempts into the metric objects; sample gauges."""
        for (rule, method, status), row in self.counts.take().items():
            labels = (
                rule if rule is not None else UNMATCHED,
                method if method in _METHODS else "OTHER",
                _STATUS_CLASS.get(status // 100, "other"),
            )
            self.requests.labels(*labels).inc(sum(row[1:]))
            _add_to_histogram(self.latency.labels(*labels), row)
        self._flush_attempts()
        app = self.app
        lifecycle = app.lifecycle
        self.in_flight.set(lifecycle.in_flight)
        self.websockets.set(len(lifecycle.websockets))
        rooms = len(app.websocket_manager.rooms) if app.has_websocket_manager else 0
        self.websocket_rooms.set(rooms)

    def _flush_attempts(self) -> None:
        taken = self.attempts.take()
        if not taken:
            return
        # Labels name only tasks registered here: cardinality stays bounded.
        registered = self.app.task_queue.task_functions if self.app.has_task_queue else {}
        for (name, category, outcome), row in taken.items():
            labels = (name, category) if name in registered else (UNREGISTERED, UNREGISTERED)
            _add_to_histogram(self.task_duration.labels(*labels, outcome), row)
            if outcome == "retry":
                self.task_retries.labels(*labels).inc(sum(row[1:]))
            elif outcome == "failed":
                self.task_failures.labels(*labels).inc(sum(row[1:]))

    async def sample_tasks(self) -> None:
        """Set the task gauges from the app's task queue, if it has one."""
        # NOTE: checked without creating a queue: an app without tasks reports none.
        if not self.app.has_task_queue:
            return
        queue = self.app.task_queue
        if not queue.enabled:
            return
        tally = await queue.backend.tally()
        # NOTE: series no longer counted are set to 0, not cleared: prometheus-client's
        # multiprocess mode cannot clear labels (it warns and keeps the old value).
        for gone in self._task_series.difference(tally):
            self.tasks.labels(*gone).set(0)
        for labels, count in tally.items():
            self.tasks.labels(*labels).set(count)
        self._task_series = set(tally)

    async def exposition(self, accept: str) -> tuple[bytes, str]:
        """The scrape's body and content type (OpenMetrics when asked for)."""
        from prometheus_client.exposition import choose_encoder

        await self.sample_tasks()
        self.flush()
        registry = self.registry
        if self.multiprocess:
            from prometheus_client import CollectorRegistry
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type

    # -- multiprocess: periodic flush, clean exit ------------------------------
    def start(self) -> None:
        """Flush every ``flush_interval`` s (multiprocess mode only)."""
        if self.multiprocess and self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.flush_interval, self._tick)

    def _tick(self) -> None:
        self.flush()
        self._schedule()

    def stop(self) -> None:
        """Last flush; drop this worker's live gauges (multiprocess mode)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())


def enable_metrics(app: Any, path: str = "/metrics", **options: Any) -> Metrics:
    """Serve Prometheus metrics at ``path`` and record every request (see module doc)."""
    from gobstopper.http.response import Response
    from gobstopper.openapi.metadata import operation
    from gobstopper.ops.observer import observer_of
    from gobstopper.tasks.observers import observe_app_tasks

    metrics = Metrics(app, **options)
    observer_of(app).add(metrics.counts.record)
    observe_app_tasks(app, metrics.attempts)

    @operation(include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = await metrics.exposition(request.headers.get("accept", ""))
        return Response(body, headers={"content-type": content_type})

    app.add_url_rule(path, prometheus_metrics, methods=["GET"], name="prometheus_metrics")
    app.on_startup(metrics.start)
    app.on_shutdown(metrics.stop)
    return metrics
