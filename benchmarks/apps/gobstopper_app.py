"""Gobstopper app, written only from the public API reference.

Served by Granian's RSGI interface from the project's own virtual environment. /mw lives
on a blueprint carrying the three header middlewares, so only that route pays for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from benchmarks.apps.common import (
    HELLO,
    ROWS,
    TEMPLATE_DIR,
    TEMPLATE_NAME,
    TEMPLATE_TITLE,
    extra_param_prefixes,
    extra_static_paths,
)
from gobstopper import Blueprint, Gobstopper, JSONResponse, Request, Response

CallNext = Callable[[Request], Awaitable[Response]]
Middleware = Callable[[Request, CallNext], Awaitable[Response]]


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


app = Gobstopper(__name__)
app.init_templates(TEMPLATE_DIR, use_rust=False, auto_reload=False)


def header_middleware(name: str) -> Middleware:
    """Build a middleware adding the response header ``name: 1``."""

    async def middleware(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers[name] = "1"
        return response

    return middleware


def add_extra_routes() -> None:
    """Register the 50 static and 50 parameterized routes before the measured ones."""

    async def extra_static(request: Request) -> Response:
        return Response("ok", content_type="text/plain")

    async def extra_param(request: Request, id: int) -> Response:
        return Response(f"item {id}", content_type="text/plain")

    for i, path in enumerate(extra_static_paths()):
        app.get(path, name=f"static{i}")(extra_static)
    for i, prefix in enumerate(extra_param_prefixes()):
        app.get(prefix + "<int:id>", name=f"param{i}")(extra_param)


add_extra_routes()


@app.get("/plaintext")
async def plaintext(request: Request) -> Response:
    """Return the plain-text greeting."""
    return Response(HELLO, content_type="text/plain")


@app.get("/json")
async def json_hello(request: Request) -> dict[str, str]:
    """Return the greeting as JSON."""
    return {"message": HELLO}


@app.get("/users/<int:id>")
async def user(request: Request, id: int) -> dict[str, Any]:
    """Echo the int path parameter and the ``q`` query parameter."""
    return {"id": id, "q": request.args.get("q", [""])[0]}


@app.post("/echo")
async def echo(request: Request) -> JSONResponse:
    """Validate the JSON body into ``Order`` and send it back (msgspec encodes a Struct)."""
    return JSONResponse(await request.json(model=Order))


@app.get("/template")
async def template(request: Request) -> Response:
    """Render the 10-row table."""
    return await app.render_template(TEMPLATE_NAME, rows=ROWS, title=TEMPLATE_TITLE)


mw_blueprint = Blueprint("mw")
for _name in ("x-mw1", "x-mw2", "x-mw3"):
    mw_blueprint.add_middleware(header_middleware(_name))


@mw_blueprint.get("/mw")
async def mw(request: Request) -> Response:
    """Return the plain-text greeting through the three blueprint middlewares."""
    return Response(HELLO, content_type="text/plain")


app.register_blueprint(mw_blueprint)
