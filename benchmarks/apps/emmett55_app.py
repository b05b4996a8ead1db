"""emmett55 app: the RSGI-native peer, with pipes, ``service.json`` and Jinja2 rendering.

Served by Granian's RSGI interface from its own virtual environment (``emmett55[orjson]``,
the JSON backend its docs recommend). emmett55 ships no template engine, so /template
renders with a plain Jinja2 environment; the body model is a msgspec ``Struct`` encoded back
with msgspec. /mw has three pipes on its own route (emmett's per-route middleware).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import msgspec
from emmett55 import App, Pipe, request, response
from emmett55.tools import service

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


class HeaderPipe(Pipe):
    """Add the response header ``name: 1`` once the route has answered."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def pipe_request(self, next_pipe: Any, **kwargs: Any) -> Any:
        """Run the rest of the pipeline, then set the header."""
        output = await next_pipe(**kwargs)
        response.headers[self.name] = "1"
        return output


# NOTE: emmett creates ``logs/`` and ``static/`` under the app root; keep them out of the repo.
app = App(__name__, root_path=os.path.join(tempfile.gettempdir(), "gobstopper-bench-emmett55"))
templates = production_jinja_env()
encoder = msgspec.json.Encoder()


def add_extra_routes() -> None:
    """Register the 50 static and 50 parameterized routes before the measured ones."""
    for i, path in enumerate(extra_static_paths()):

        async def extra_static() -> str:
            return "ok"

        app.route(path, name=f"static{i}", methods="get")(extra_static)
    for i, prefix in enumerate(extra_param_prefixes()):

        async def extra_param(id: int) -> str:
            return f"item {id}"

        app.route(prefix + "<int:id>", name=f"param{i}", methods="get")(extra_param)


add_extra_routes()


@app.route("/plaintext", methods="get")
async def plaintext() -> str:
    """Return the plain-text greeting."""
    return HELLO


@app.route("/json", methods="get")
@service.json
async def json_hello() -> dict[str, str]:
    """Return the greeting as JSON."""
    return {"message": HELLO}


@app.route("/users/<int:id>", methods="get")
@service.json
async def user(id: int) -> dict[str, Any]:
    """Echo the int path parameter and the ``q`` query parameter."""
    return {"id": id, "q": request.query_params.q or ""}


@app.route("/echo", methods="post", output="bytes")
async def echo() -> bytes:
    """Validate the JSON body into ``Order`` and send it back."""
    try:
        order = msgspec.json.decode(await request.body, type=Order)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        response.status = 400
        return str(exc).encode()
    response.content_type = "application/json"
    return encoder.encode(order)


@app.route("/template", methods="get", output="str")
async def template() -> str:
    """Render the 10-row table."""
    response.content_type = "text/html; charset=utf-8"
    return templates.get_template(TEMPLATE_NAME).render(rows=ROWS, title=TEMPLATE_TITLE)


@app.route("/mw", methods="get", pipeline=[HeaderPipe(f"x-mw{i}") for i in (1, 2, 3)])
async def mw() -> str:
    """Return the plain-text greeting through the three header pipes."""
    return HELLO
