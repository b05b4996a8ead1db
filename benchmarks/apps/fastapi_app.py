"""FastAPI app: typed handlers, a pydantic body model, ``Jinja2Templates``.

Served by Granian's ASGI interface from its own virtual environment. FastAPI has no
per-router middleware; its documented way to wrap only some routes is a custom
``APIRoute`` class on an ``APIRouter`` (``route_class``), so /mw lives on a router whose
route class wraps the handler three times, each wrapper adding one header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from benchmarks.apps.common import (
    HELLO,
    ROWS,
    TEMPLATE_NAME,
    TEMPLATE_TITLE,
    extra_param_prefixes,
    extra_static_paths,
    production_jinja_env,
)

RouteHandler = Callable[[Request], Awaitable[Response]]


class Item(BaseModel):
    """One order line."""

    sku: str
    name: str
    qty: int
    price: float


class Order(BaseModel):
    """The /echo body model."""

    id: int
    customer: str
    email: str
    tags: list[str]
    items: list[Item]
    note: str


templates = Jinja2Templates(env=production_jinja_env())
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def header_wrapper(name: str, handler: RouteHandler) -> RouteHandler:
    """Wrap a route handler so its response gains the header ``name: 1``."""

    async def wrapped(request: Request) -> Response:
        response = await handler(request)
        response.headers[name] = "1"
        return response

    return wrapped


class HeaderRoute(APIRoute):
    """Route class running each handler through the three header wrappers."""

    def get_route_handler(self) -> RouteHandler:
        """Return FastAPI's handler wrapped by x-mw3, x-mw2 and x-mw1 (outermost)."""
        handler = super().get_route_handler()
        for name in ("x-mw3", "x-mw2", "x-mw1"):
            handler = header_wrapper(name, handler)
        return handler


def add_extra_routes() -> None:
    """Register the 50 static and 50 parameterized routes before the measured ones."""

    async def extra_static() -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def extra_param(id: int) -> PlainTextResponse:
        return PlainTextResponse(f"item {id}")

    for path in extra_static_paths():
        app.add_api_route(path, extra_static)
    for prefix in extra_param_prefixes():
        app.add_api_route(prefix + "{id}", extra_param)


add_extra_routes()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    """Return the plain-text greeting."""
    return HELLO


@app.get("/json")
async def json_hello() -> dict[str, str]:
    """Return the greeting as JSON."""
    return {"message": HELLO}


@app.get("/users/{id}")
async def user(id: int, q: str = "") -> dict[str, int | str]:
    """Echo the int path parameter and the ``q`` query parameter."""
    return {"id": id, "q": q}


@app.post("/echo")
async def echo(order: Order) -> Order:
    """Validate the JSON body into ``Order`` and send it back."""
    return order


@app.get("/template")
async def template(request: Request) -> Response:
    """Render the 10-row table."""
    return templates.TemplateResponse(
        request, TEMPLATE_NAME, {"rows": ROWS, "title": TEMPLATE_TITLE}
    )


mw_router = APIRouter(route_class=HeaderRoute)


@mw_router.get("/mw", response_class=PlainTextResponse)
async def mw() -> str:
    """Return the plain-text greeting through the three header wrappers."""
    return HELLO


app.include_router(mw_router)
