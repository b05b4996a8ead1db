"""OpenTelemetry tracing: one SERVER span per request (extra ``tracing``).

The span is named ``"{method} {route template}"`` (``GET /users/<int:id>``;
the method alone when no route matched), as OpenTelemetry's HTTP semantic
conventions say, so raw paths never become span names. An incoming W3C
``traceparent`` (through the globally configured propagator) makes it a
child of the caller's span; the response carries this span's ``traceparent``.
Status codes are recorded, 5xx marks the span as an error, and an exception
raised by the handler is recorded on the span. The span is current while the
handler runs, so spans it starts are its children.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import BaseResponse

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


def enable_tracing(app: Any, tracer_provider: Any = None) -> TracingMiddleware:
    """Trace every request of ``app`` (``tracer_provider``: default the global one)."""
    middleware = TracingMiddleware(tracer_provider)
    app.add_middleware(middleware, priority=PRIORITY)
    return middleware
