"""OpenTelemetry tracing: a SERVER span per request, a CONSUMER span per task run.

Needs the extra ``tracing`` (opentelemetry-api).

The span is named ``"{method} {route template}"`` (``GET /users/<int:id>``;
the method alone when no route matched), as OpenTelemetry's HTTP semantic
conventions say, so raw paths never become span names. An incoming W3C
``traceparent`` (through the globally configured propagator) makes it a
child of the caller's span; the response carries this span's ``traceparent``.
Status codes are recorded, 5xx marks the span as an error, and an exception
raised by the handler is recorded on the span. The span is current while the
handler runs, so spans it starts are its children.

Tasks (``TaskTracing``, added to the app's task queue): ``add_task`` stores
the ``traceparent`` of the span current when it is called (the request's,
in a handler) in ``TaskInfo.trace_parent``, so it travels with the task to
whichever process runs it. Each attempt then gets a span named
``"task {name}"``, kind CONSUMER, that *links* to the queuing span rather
than being its child (OpenTelemetry's messaging conventions): a task may run
long after the request ended, or many times, and a link keeps the request's
trace as long as the request. The task span is current while the function
runs (sync functions in the thread pool too), so spans it opens are children.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from gobstopper.tasks.models import TaskStatus

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import BaseResponse
    from gobstopper.tasks.models import TaskInfo

#: Outermost among the app's middleware: the span covers all of them (the request
#: id is fixed before any middleware runs, by the dispatcher's observer).
PRIORITY = 1_000_000
_SPAN = "_ops_span"


def _import_api() -> Any:
    try:
        import opentelemetry.trace
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "tracing needs opentelemetry-api: pip install 'gobstopper[tracing]'"
        ) from exc
    return opentelemetry.trace


class TracingMiddleware:
    """App-level middleware opening one span per request."""

    def __init__(self, tracer_provider: Any = None) -> None:
        trace = _import_api()
        from opentelemetry import context, propagate
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._context = context
        self._extract = propagate.extract
        self._outgoing = TraceContextTextMapPropagator()
        self.tracer = trace.get_tracer("gobstopper", tracer_provider=tracer_provider)

    async def __call__(self, request: Request, call_next: Callable[..., Any]) -> BaseResponse:
        trace = self._trace
        method = request.method
        route = request.url_rule
        span = self.tracer.start_span(
            f"{method} {route}" if route else method,
            context=self._extract(request.headers),
            kind=trace.SpanKind.SERVER,
            attributes=_request_attributes(request, method, route),
        )
        token = self._context.attach(trace.set_span_in_context(span))
        try:
            response: BaseResponse = await call_next(request)
        except BaseException as exc:
            span.record_exception(exc)
            # Ended in finalize_response, with the status of the error page sent.
            request.__dict__[_SPAN] = span
            raise
        finally:
            self._context.detach(token)
        self._end(span, response)
        return response

    def finalize_response(self, request: Request, response: BaseResponse) -> None:
        """End the span of a request whose chain raised, with the error page's status."""
        span = request.__dict__.pop(_SPAN, None)
        if span is not None:
            self._end(span, response)

    def _end(self, span: Any, response: BaseResponse) -> None:
        status = response.status
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(self._trace.StatusCode.ERROR)
        self._outgoing.inject(response.headers, context=self._trace.set_span_in_context(span))
        span.end()


def _request_attributes(request: Request, method: str, route: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": request.path,
        "url.scheme": request.scheme,
        "client.address": request.client_ip,
    }
    if route:
        attributes["http.route"] = route
    return attributes


class TaskTracing:
    """A ``TaskObserver``: one span per task attempt, linked to the span that queued it."""

    def __init__(self, tracer_provider: Any = None) -> None:
        trace = _import_api()
        from opentelemetry import context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._context = context
        self._propagator = TraceContextTextMapPropagator()
        self.tracer = trace.get_tracer("gobstopper", tracer_provider=tracer_provider)
        #: The span of the attempt running in this context (one per worker coroutine).
        self._span: ContextVar[Any] = ContextVar("gobstopper_task_span", default=None)

    def task_queued(self, info: TaskInfo) -> None:
        """Keep the current span's ``traceparent`` with the task (None without a span)."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        info.trace_parent = carrier.get("traceparent")

    @contextmanager
    def task_running(self, info: TaskInfo) -> Iterator[None]:
        """Open the attempt's span and make it current while the attempt runs."""
        trace = self._trace
        span = self.tracer.start_span(
            f"task {info.name}",
            # A root of its own: not a child of whatever the worker coroutine
            # inherited from where ``start_workers`` was called.
            context=self._context.Context(),
            kind=trace.SpanKind.CONSUMER,
            links=self._links(info.trace_parent),
            attributes={
                "messaging.system": "gobstopper",
                "messaging.operation.type": "process",
                "messaging.message.id": info.id,
                "messaging.destination.name": info.category,
                "gobstopper.task.name": info.name,
                "gobstopper.task.retry_count": info.retry_count,
            },
        )
        token = self._context.attach(trace.set_span_in_context(span))
        current = self._span.set(span)
        try:
            yield
        finally:
            self._span.reset(current)
            self._context.detach(token)
            span.end()

    def attempt_ended(self, info: TaskInfo, seconds: float, error: BaseException | None) -> None:
        """Record the outcome; a failed attempt sets ERROR and records its exception."""
        span = self._span.get()
        if span is None:
            return
        span.set_attribute("gobstopper.task.outcome", info.status.value)
        if info.status is TaskStatus.SUCCESS:
            return
        if error is not None:
            span.record_exception(error)
        headline = (info.error or "").partition("\n")[0]
        span.set_status(self._trace.StatusCode.ERROR, headline)

    def _links(self, trace_parent: str | None) -> list[Any]:
        if not trace_parent:
            return []
        queued = self._propagator.extract({"traceparent": trace_parent})
        span_context = self._trace.get_current_span(queued).get_span_context()
        return [self._trace.Link(span_context)] if span_context.is_valid else []


def enable_tracing(app: Any, tracer_provider: Any = None) -> TracingMiddleware:
    """Trace every request of ``app`` and every task run by its task queue.

    ``tracer_provider``: default the global one. The task observer is added
    to the app's task queue now if it has one, else at startup (see
    ``gobstopper.tasks.observers.observe_app_tasks``).
    """
    from gobstopper.tasks.observers import observe_app_tasks

    middleware = TracingMiddleware(tracer_provider)
    app.add_middleware(middleware, priority=PRIORITY)
    observe_app_tasks(app, TaskTracing(tracer_provider))
    return middleware
