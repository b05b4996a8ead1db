"""The ceiling: a plain RSGI callable with hand-written routing and no framework.

Everything a framework adds on top of this (routing tables, request objects, middleware
chains, return coercion) shows up as the ratio of its numbers to these. Still, it does the
same work per request as the others: it parses the query string, decodes and validates the
JSON body, encodes JSON and renders the template every time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec

from benchmarks.apps.common import (
    HELLO,
    ROWS,
    TEMPLATE_NAME,
    TEMPLATE_TITLE,
    extra_param_prefixes,
    extra_static_paths,
    production_jinja_env,
)

Headers = list[tuple[str, str]]
Reply = tuple[int, Headers, str | bytes]
Handler = Callable[..., Awaitable[Reply]]

TEXT: Headers = [("content-type", "text/plain; charset=utf-8")]
JSON: Headers = [("content-type", "application/json")]
HTML: Headers = [("content-type", "text/html; charset=utf-8")]


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


class Notice(msgspec.Struct):
    """The /accept body model."""

    to: str


_encoder = msgspec.json.Encoder()
_order_decoder = msgspec.json.Decoder(Order)
_notice_decoder = msgspec.json.Decoder(Notice)
_templates = production_jinja_env()


async def plaintext(scope: Any, proto: Any) -> Reply:
    """Return the plain-text greeting."""
    return 200, TEXT, HELLO


async def json_hello(scope: Any, proto: Any) -> Reply:
    """Return the greeting as JSON, encoded now."""
    return 200, JSON, _encoder.encode({"message": HELLO})


async def user(scope: Any, proto: Any, id: int) -> Reply:
    """Echo the int path parameter and the ``q`` query parameter as JSON."""
    q = parse_qs(scope.query_string).get("q", [""])[0]
    return 200, JSON, _encoder.encode({"id": id, "q": q})


async def echo(scope: Any, proto: Any) -> Reply:
    """Validate the JSON body into ``Order`` and send it back as JSON."""
    try:
        order = _order_decoder.decode(await proto())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return 400, TEXT, str(exc)
    return 200, JSON, _encoder.encode(order)


async def accept(scope: Any, proto: Any) -> Reply:
    """Read the JSON body's ``to`` and answer 202 with a fresh id, queuing nothing."""
    try:
        _notice_decoder.decode(await proto())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return 400, TEXT, str(exc)
    return 202, JSON, _encoder.encode({"id": str(uuid.uuid4())})


async def template(scope: Any, proto: Any) -> Reply:
    """Render the 10-row table."""
    html = _templates.get_template(TEMPLATE_NAME).render(rows=ROWS, title=TEMPLATE_TITLE)
    return 200, HTML, html


def header_middleware(name: str, handler: Handler) -> Handler:
    """Wrap ``handler`` so its response gains the header ``name: 1``."""

    async def wrapped(scope: Any, proto: Any) -> Reply:
        status, headers, body = await handler(scope, proto)
        return status, [*headers, (name, "1")], body

    return wrapped


async def extra_static(scope: Any, proto: Any) -> Reply:
    """Answer one of the extra static routes."""
    return 200, TEXT, "ok"


async def extra_param(scope: Any, proto: Any, id: int) -> Reply:
    """Answer one of the extra parameterized routes."""
    return 200, TEXT, f"item {id}"


STATIC: dict[str, dict[str, Handler]] = {"GET": {}, "POST": {}}
PARAM: dict[str, Handler] = {}
"""Parameterized GET routes by the path up to their trailing ``/<int:id>`` segment."""

for _path in extra_static_paths():
    STATIC["GET"][_path] = extra_static
for _prefix in extra_param_prefixes():
    PARAM[_prefix] = extra_param
STATIC["GET"].update(
    {
        "/plaintext": plaintext,
        "/json": json_hello,
        "/template": template,
        "/mw": header_middleware(
            "x-mw1", header_middleware("x-mw2", header_middleware("x-mw3", plaintext))
        ),
    }
)
STATIC["POST"]["/echo"] = echo
STATIC["POST"]["/accept"] = accept
PARAM["/users/"] = user


def match(method: str, path: str) -> tuple[Handler, tuple[int, ...]] | None:
    """Find the handler and its int argument, if any, for ``method`` and ``path``."""
    routes = STATIC.get(method)
    if routes is None:
        return None
    handler = routes.get(path)
    if handler is not None:
        return handler, ()
    if method != "GET":
        return None
    head, _, tail = path.rpartition("/")
    handler = PARAM.get(head + "/")
    if handler is None or not (tail.isascii() and tail.isdigit()):
        return None
    return handler, (int(tail),)


async def app(scope: Any, proto: Any) -> None:
    """Serve one RSGI HTTP request."""
    found = match(scope.method, scope.path)
    if found is None:
        proto.response_str(404, TEXT, "Not Found")
        return
    handler, args = found
    status, headers, body = await handler(scope, proto, *args)
    if isinstance(body, str):
        proto.response_str(status, headers, body)
    else:
        proto.response_bytes(status, headers, body)
