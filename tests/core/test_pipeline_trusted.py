"""Layers annotated ``-> Response`` are called without a coercion step.

``declares_response`` decides, once per route, which handlers and inner
middlewares are taken at their word; everything else keeps the step that
turns a dict, str or tuple into a response before ``call_next`` returns it.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import pytest

from gobstopper import Gobstopper
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, JSONResponse, Response
from gobstopper.http.response_models import declares_response
from gobstopper.middleware.cors import CORSMiddleware
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.middleware.static import StaticFileMiddleware
from gobstopper.testing import TestClient

if TYPE_CHECKING:
    from gobstopper.http.response import Response as OnlyForTypeCheckers


async def to_response_class(request: Request) -> Response:
    return Response("r")


async def to_json_response(request: Request) -> JSONResponse:
    return JSONResponse({})


async def to_base_response(request: Request) -> BaseResponse:
    return Response("b")


async def to_union(request: Request) -> Response | dict[str, int]:
    return {}


async def to_dict(request: Request) -> dict[str, int]:
    return {}


async def unannotated(request):  # type: ignore[no-untyped-def]
    return "text"


async def unresolvable(request: Request) -> OnlyForTypeCheckers:
    return Response("u")


@functools.wraps(to_response_class)
async def decorated(request: Request) -> Any:
    return {"decorated": True}


class CallableMiddleware:
    async def __call__(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        return response


@pytest.mark.parametrize(
    ("function", "trusted"),
    [
        (to_response_class, True),
        (to_json_response, True),
        (to_base_response, True),
        (CallableMiddleware(), True),
        (to_union, False),
        (to_dict, False),
        (unannotated, False),
        (unresolvable, False),
        (decorated, False),
    ],
)
def test_only_a_single_response_class_annotation_is_trusted(function, trusted):
    assert declares_response(function) is trusted


def header(name: str) -> Any:
    async def add(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers[name] = "1"
        return response

    return add


def test_a_trusted_chain_runs_every_layer_in_order_and_passes_params():
    app = Gobstopper(__name__)
    order: list[str] = []
    calls_next: list[Any] = []

    def layer(name: str) -> Any:
        async def record(request: Request, call_next: Any) -> Response:
            order.append(f"{name} in")
            calls_next.append(call_next)
            response: Response = await call_next(request)
            order.append(f"{name} out")
            response.headers[f"x-{name}"] = str(len(order))
            return response

        return record

    for name in ("outer", "inner"):
        app.add_middleware(layer(name))

    @app.get("/items/<int:item_id>")
    async def item(request: Request, item_id: int) -> Response:
        order.append(f"handler {item_id}")
        return Response(f"item {item_id}", content_type="text/plain")

    with TestClient(app) as client:
        answer = client.get("/items/7")
    assert (answer.status_code, answer.text) == (200, "item 7")
    assert order == ["outer in", "inner in", "handler 7", "inner out", "outer out"]
    assert (answer.headers["x-inner"], answer.headers["x-outer"]) == ("4", "5")
    # Neither call_next is a coroutine function of ours: no coercion step was built.
    assert not any(inspect.iscoroutinefunction(call_next) for call_next in calls_next)


@pytest.mark.parametrize("handler_annotation", [dict, Any])
def test_untrusted_handlers_keep_their_coercion_step(handler_annotation):
    app = Gobstopper(__name__)
    app.add_middleware(header("x-outer"))
    app.add_middleware(header("x-inner"))

    async def value(request: Request) -> Any:
        return {"value": 1}

    value.__annotations__["return"] = handler_annotation
    app.get("/value")(value)
    app.get("/decorated")(decorated)

    with TestClient(app) as client:
        for path, body in (("/value", {"value": 1}), ("/decorated", {"decorated": True})):
            answer = client.get(path)
            assert (answer.status_code, answer.json()) == (200, body)
            assert (answer.headers["x-outer"], answer.headers["x-inner"]) == ("1", "1")


def test_an_untrusted_inner_middlewares_answer_is_still_coerced_for_call_next():
    app = Gobstopper(__name__)
    seen: list[Any] = []

    async def outer(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        seen.append(response)
        return response

    async def short_circuit(request: Request, call_next: Any):  # type: ignore[no-untyped-def]
        return {"short": "circuit"}

    app.add_middleware(outer)
    app.add_middleware(short_circuit)

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response("never")

    with TestClient(app) as client:
        answer = client.get("/")
    assert answer.json() == {"short": "circuit"}
    assert isinstance(seen[0], BaseResponse)


def test_a_handler_breaking_its_annotation_is_still_answered_through_a_pass_through_chain():
    """The dispatcher coerces the outermost answer, so only a layer that reads it can fail."""
    app = Gobstopper(__name__)

    async def passing(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        return response

    app.add_middleware(passing)

    @app.get("/mislabelled")
    async def mislabelled(request: Request) -> Response:
        return {"not": "a response"}  # type: ignore[return-value]

    with TestClient(app) as client:
        answer = client.get("/mislabelled")
    assert (answer.status_code, answer.json()) == (200, {"not": "a response"})


@pytest.mark.parametrize(
    "middleware_class", [CORSMiddleware, SecurityMiddleware, StaticFileMiddleware]
)
def test_the_built_in_middlewares_are_trusted_as_inner_layers(middleware_class):
    """Each answers a response (its own, or call_next's), so it needs no coercion step."""
    assert declares_response(middleware_class.__call__)
