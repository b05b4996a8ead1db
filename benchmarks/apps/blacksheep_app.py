"""BlackSheep app: typed handlers, ``FromJSON`` into a pydantic model, Jinja via ``view``.

Served by Granian's ASGI interface from its own virtual environment. BlackSheep
middlewares are app-wide; its documentation says to use decorators for logic that only
some routes need, so /mw is wrapped by three decorators, each adding one header.
The body model is pydantic because BlackSheep's binder validates pydantic models but only
calls ``__init__`` on other classes (which for a msgspec ``Struct`` checks no types).
Template files keep the shared ``.html`` name through ``APP_JINJA_EXTENSION=.html``,
which the driver sets for this app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from blacksheep import Application, FromJSON, Request, Response, json, text
from blacksheep.server.rendering.jinja2 import JinjaRenderer
from blacksheep.server.responses import view
from blacksheep.settings.html import html_settings
from jinja2 import FileSystemLoader
from pydantic import BaseModel

from benchmarks.apps.common import (
    HELLO,
    ROWS,
    TEMPLATE_DIR,
    TEMPLATE_NAME,
    TEMPLATE_TITLE,
    extra_param_prefixes,
    extra_static_paths,
)

Handler = Callable[..., Awaitable[Response]]


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


app = Application()
html_settings.use(JinjaRenderer(loader=FileSystemLoader(TEMPLATE_DIR)))
TEMPLATE = TEMPLATE_NAME.removesuffix(".html")


def add_header(name: str) -> Callable[[Handler], Handler]:
    """Build a decorator whose wrapped handler's response gains the header ``name: 1``."""

    def decorator(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapped(*args: Any, **kwargs: Any) -> Response:
            response = await handler(*args, **kwargs)
            response.add_header(name.encode(), b"1")
            return response

        return wrapped

    return decorator


def add_extra_routes() -> None:
    """Register the 50 static and 50 parameterized routes before the measured ones."""

    async def extra_static() -> Response:
        return text("ok")

    async def extra_param(id: int) -> Response:
        return text(f"item {id}")

    for path in extra_static_paths():
        app.router.add_get(path, extra_static)
    for prefix in extra_param_prefixes():
        app.router.add_get(prefix + "{int:id}", extra_param)


add_extra_routes()


@app.router.get("/plaintext")
async def plaintext() -> Response:
    """Return the plain-text greeting."""
    return text(HELLO)


@app.router.get("/json")
async def json_hello() -> Response:
    """Return the greeting as JSON."""
    return json({"message": HELLO})


@app.router.get("/users/{int:id}")
async def user(id: int, q: str = "") -> Response:
    """Echo the int path parameter and the ``q`` query parameter."""
    return json({"id": id, "q": q})


@app.router.post("/echo")
async def echo(data: FromJSON[Order]) -> Order:
    """Validate the JSON body into ``Order`` and send it back."""
    return data.value


@app.router.get("/template")
async def template(request: Request) -> Response:
    """Render the 10-row table."""
    return view(TEMPLATE, {"rows": ROWS, "title": TEMPLATE_TITLE})


@app.router.get("/mw")
@add_header("x-mw1")
@add_header("x-mw2")
@add_header("x-mw3")
async def mw() -> Response:
    """Return the plain-text greeting through the three header decorators."""
    return text(HELLO)
