"""Litestar app: typed handlers, a msgspec body model, Jinja templates via ``TemplateConfig``.

Served by Granian's ASGI interface from its own virtual environment. /mw carries three
``ASGIMiddleware`` instances on its own handler (Litestar scopes middleware per layer).
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, MediaType, Request, get, post
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

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


class HeaderMiddleware(ASGIMiddleware):
    """Add the response header ``name: 1``."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Pass the request on, adding the header to the response start message."""

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message).add(self.name, "1")
            await send(message)

        await next_app(scope, receive, send_with_header)


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    """Return the plain-text greeting."""
    return HELLO


@get("/json")
async def json_hello() -> dict[str, str]:
    """Return the greeting as JSON."""
    return {"message": HELLO}


@get("/users/{id:int}")
async def user(id: int, q: str = "") -> dict[str, int | str]:
    """Echo the int path parameter and the ``q`` query parameter."""
    return {"id": id, "q": q}


@post("/echo", status_code=200)
async def echo(data: Order) -> Order:
    """Validate the JSON body into ``Order`` and send it back."""
    return data


@get("/template")
async def template(request: Request) -> Template:
    """Render the 10-row table."""
    return Template(template_name=TEMPLATE_NAME, context={"rows": ROWS, "title": TEMPLATE_TITLE})


@get(
    "/mw",
    media_type=MediaType.TEXT,
    middleware=[HeaderMiddleware(f"x-mw{i}") for i in (1, 2, 3)],
)
async def mw() -> str:
    """Return the plain-text greeting through the three header middlewares."""
    return HELLO


def extra_handlers() -> list[HTTPRouteHandler]:
    """Build the 50 static and 50 parameterized handlers registered before the measured ones."""
    handlers: list[HTTPRouteHandler] = []
    for i, path in enumerate(extra_static_paths()):

        async def extra_static() -> str:
            return "ok"

        handlers.append(get(path, media_type=MediaType.TEXT, name=f"static{i}")(extra_static))
    for i, prefix in enumerate(extra_param_prefixes()):

        async def extra_param(id: int) -> str:
            return f"item {id}"

        handlers.append(
            get(prefix + "{id:int}", media_type=MediaType.TEXT, name=f"param{i}")(extra_param)
        )
    return handlers


app = Litestar(
    route_handlers=[*extra_handlers(), plaintext, json_hello, user, echo, template, mw],
    template_config=TemplateConfig(
        instance=JinjaTemplateEngine.from_environment(production_jinja_env())
    ),
    openapi_config=None,
)
