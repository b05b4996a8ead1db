"""Prometheus metrics: requests by route template, in-flight, WebSockets, tasks.

Per request the hot path only adds to plain Python counters (one dict lookup,
one ``bisect``, three integer/float additions); they are pushed into
prometheus-client's metric objects at each scrape, and, in multiprocess mode,
every ``flush_interval`` seconds. Labels are the route template (``/users/<int:id>``,
never the raw path; ``<unmatched>`` when no route matched), the method
(``OTHER`` for non-standard ones) and the status class (``2xx``).

Several workers: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
shared by the workers (and cleared before the server starts). prometheus-client
then keeps each worker's values in a file there and a scrape of any worker
sums them all (its multiprocess mode). Counts from other workers are at most
``flush_interval`` old; a worker's gauges are removed when it stops.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gobstopper.config import prometheus_multiprocess_dir

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import BaseResponse

#: Latency buckets in seconds (prometheus-client's defaults, plus 25 ms and 250 ms).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` when set (prometheus-client's multiprocess mode)."""
    return prometheus_multiprocess_dir()


class RequestCounts:
    """Counts and latency buckets per ``(route, method, status)``, in plain Python.

    ``take()`` hands over what was recorded since the last call.
    """

    __slots__ = ("bounds", "first", "series")

    def __init__(self, buckets: Sequence[float]) -> None:
        finite = sorted({float(b) for b in buckets} - {float("inf")})
        self.bounds = (*finite, float("inf"))
        self.first = self.bounds[0]
        #: key -> [sum of seconds, count per bucket (not cumulative)...]
        self.series: dict[tuple[str | None, str, int], list[Any]] = {}

    def record(self, request: Request, response: BaseResponse, seconds: float) -> None:
        """Add one request (a ``RequestObserver`` recorder)."""
        # PERF: the route template is set by the dispatcher on match. Positive
        # indexes only, and the first bucket (5 ms: most requests) without a
        # bisect: ~0.14 us less than ``row[bisect(...)]`` and ``row[-1]``.
        key = (request.url_rule, request.scope.method, response.status)
        row = self.series.get(key)
        if row is None:
            row = self.series[key] = [0.0] + [0] * len(self.bounds)
        row[0] += seconds
        if seconds <= self.first:
            row[1] += 1
        else:
            row[1 + bisect_left(self.bounds, seconds)] += 1

    def take(self) -> dict[tuple[str | None, str, int], list[Any]]:
        """What was recorded since the last ``take`` (and forget it)."""
        taken, self.series = self.series, {}
        return taken


class Metrics:
    """An app's metric objects and the plain counters feeding them."""

    def __init__(
        self,
        app: Any,
        namespace: str = "gobstopper",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        flush_interval: float = 1.0,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.app = app
        self.counts = RequestCounts(buckets)
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
            "Time from routing to the response (streamed bodies excluded).",
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
        self.tasks = Gauge(
            "tasks",
            "Stored tasks by status, category and priority (every task the store keeps).",
            ("status", "category", "priority"),
            namespace=namespace,
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self._timer: asyncio.TimerHandle | None = None

    # -- pushing plain counts into prometheus-client ---------------------------
    def flush(self) -> None:
        """Move recorded requests into the metric objects; sample the gauges."""
        for (rule, method, status), row in self.counts.take().items():
            labels = (
                rule if rule is not None else UNMATCHED,
                method if method in _METHODS else "OTHER",
                _STATUS_CLASS.get(status // 100, "other"),
            )
            counts = row[1:]
            self.requests.labels(*labels).inc(sum(counts))
            child = self.latency.labels(*labels)
            # NOTE: prometheus-client has no public "add N observations" call; its
            # Histogram keeps one value per bucket (not cumulative) and a sum, which
            # is what we add to. Pinned by tests/ops/test_metrics.py.
            child._sum.inc(row[0])
            for bucket, count in zip(child._buckets, counts, strict=True):
                if count:
                    bucket.inc(count)
        lifecycle = self.app.lifecycle
        self.in_flight.set(lifecycle.in_flight)
        self.websockets.set(len(lifecycle.websockets))

    async def sample_tasks(self) -> None:
        """Set the task gauges from the app's task queue, if it has one."""
        # NOTE: checked without creating a queue: an app without tasks reports none.
        if not self.app.has_task_queue:
            return
        queue = self.app.task_queue
        if not queue.enabled:
            return
        tally = await queue.backend.tally()
        self.tasks.clear()
        for (status, category, priority), count in tally.items():
            self.tasks.labels(status, category, priority).set(count)

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

    metrics = Metrics(app, **options)
    observer_of(app).add(metrics.counts.record)

    @operation(include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = await metrics.exposition(request.headers.get("accept", ""))
        return Response(body, headers={"content-type": content_type})

    app.add_url_rule(path, prometheus_metrics, methods=["GET"], name="prometheus_metrics")
    app.on_startup(metrics.start)
    app.on_shutdown(metrics.stop)
    return metrics
