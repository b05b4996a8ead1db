"""Starlette app: plain ``Route`` list, ``Jinja2Templates``, msgspec for the body model.

Served by Granian's ASGI interface from its own virtual environment. /mw goes through three
pure ASGI middlewares attached to that one route (``Route(middleware=...)``), the style
Starlette's documentation recommends over ``BaseHTTPMiddleware`` for speed.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.apps.common import (
    HELLO,
    ROWS,
    TEMPLATE_NAME,
    TEMPLATE_TITLE,
    extra_param_prefixes,
    extra_static_paths,
    production_jinja_env,
)


class Item(msgspec.Struct):
    """One order line."""

    sku: str
    name: str
    qty: int
    price: float


class Order(msgspec.Struct):
    """The /echo body model."""

    id: int
    customer: str
    email: str
    tags: list[str]
    items: list[Item]
    note: str


templates = Jinja2Templates(env=production_jinja_env())


async def plaintext(request: Request) -> Response:
    """Return the plain-text greeting."""
    return PlainTextResponse(HELLO)


async def json_hello(request: Request) -> Response:
    """Return the greeting as JSON."""
    return JSONResponse({"message": HELLO})


async def user(request: Request) -> Response:
    """Echo the int path parameter and the ``q`` query parameter."""
    return JSONResponse({"id": request.path_params["id"], "q": request.query_params.get("q", "")})


async def echo(request: Request) -> Response:
    """Validate the JSON body into ``Order`` and send it back."""
    try:
        order = msgspec.json.decode(await request.body(), type=Order)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return PlainTextResponse(str(exc), status_code=400)
    return Response(msgspec.json.encode(order), media_type="application/json")


async def template(request: Request) -> Response:
    """Render the 10-row table."""
    return templates.TemplateResponse(
        request, TEMPLATE_NAME, {"rows": ROWS, "title": TEMPLATE_TITLE}
    )


class HeaderMiddleware:
    """Pure ASGI middleware adding the response header ``name: 1``."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the header to the response start message."""

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(self.name, "1")
            await send(message)

        await self.app(scope, receive, send_with_header)


async def extra_static(request: Request) -> Response:
    """Answer one of the extra static routes."""
    return PlainTextResponse("ok")


async def extra_param(request: Request) -> Response:
    """Answer one of the extra parameterized routes."""
    return PlainTextResponse(f"item {request.path_params['id']}")


def build_routes() -> list[Any]:
    """Return the extra routes first, then the measured ones."""
    routes: list[Any] = [Route(path, extra_static) for path in extra_static_paths()]
    routes += [Route(prefix + "{id:int}", extra_param) for prefix in extra_param_prefixes()]
    mw = [Middleware(HeaderMiddleware, name=f"x-mw{i}") for i in (1, 2, 3)]
    routes += [
        Route("/plaintext", plaintext),
        Route("/json", json_hello),
        Route("/users/{id:int}", user),
        Route("/echo", echo, methods=["POST"]),
        Route("/mw", plaintext, middleware=mw),
        Route("/template", template),
    ]
    return routes


app = Starlette(routes=build_routes())
