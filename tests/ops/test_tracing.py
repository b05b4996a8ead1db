"""OpenTelemetry spans per request (gobstopper.ops.tracing), with the SDK's memory exporter."""

from __future__ import annotations

import re

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gobstopper import Gobstopper
from gobstopper.testing import TestClient

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def make_app(exporter: InMemorySpanExporter) -> Gobstopper:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = Gobstopper("traced")
    tracer = provider.get_tracer("handler")

    @app.get("/users/<int:id>")
    async def user(request, id):
        with tracer.start_as_current_span("load user"):
            return {"id": id}

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("kaboom")

    app.enable_tracing(provider)
    app.enable_metrics()
    return app


def test_span_named_by_route_template_with_traceparent_in_and_out(exporter):
    app = make_app(exporter)
    incoming = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    with TestClient(app) as client:
        response = client.get("/users/7", headers={"traceparent": incoming})
    inner, server = exporter.get_finished_spans()
    assert server.name == "GET /users/<int:id>"
    assert server.kind is trace.SpanKind.SERVER
    assert format(server.context.trace_id, "032x") == CALLER_TRACE
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    assert inner.parent.span_id == server.context.span_id  # the handler's span is a child
    assert server.attributes["http.route"] == "/users/<int:id>"
    assert server.attributes["url.path"] == "/users/7"
    assert server.attributes["http.response.status_code"] == 200
    assert server.status.status_code is trace.StatusCode.UNSET
    _version, trace_id, span_id, _flags = response.headers["traceparent"].split("-")
    assert (trace_id, span_id) == (CALLER_TRACE, format(server.context.span_id, "016x"))


def test_a_request_without_traceparent_starts_a_trace(exporter):
    app = make_app(exporter)
    with TestClient(app) as client:
        response = client.get("/users/1")
    server = exporter.get_finished_spans()[-1]
    assert server.parent is None
    assert format(server.context.trace_id, "032x") in response.headers["traceparent"]


def test_exceptions_and_5xx_are_recorded(exporter):
    app = make_app(exporter)
    with TestClient(app) as client:
        response = client.get("/boom")
        missing = client.get("/nope")
    crashed, unmatched = exporter.get_finished_spans()
    assert response.status_code == 500 and "traceparent" in response.headers
    assert crashed.name == "GET /boom"
    assert crashed.status.status_code is trace.StatusCode.ERROR
    assert crashed.attributes["http.response.status_code"] == 500
    (event,) = crashed.events
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "kaboom"
    assert unmatched.name == "GET"  # no route: never the raw path
    assert unmatched.attributes["http.response.status_code"] == 404
    assert unmatched.status.status_code is trace.StatusCode.UNSET
    # The 404 still went through the observers: it got a generated request id.
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", missing.headers["x-request-id"])
