"""to_response: every return shape a handler may use."""

from __future__ import annotations

import msgspec
import pytest

from gobstopper.http.coercion import to_response
from gobstopper.http.response import JSONResponse, Response


class Point(msgspec.Struct):
    x: int
    y: int


class DictLike(dict):
    pass


@pytest.mark.parametrize(
    ("value", "status", "content_type", "body"),
    [
        ({"a": 1}, 200, "application/json", b'{"a":1}'),
        (DictLike(a=1), 200, "application/json", b'{"a":1}'),
        ([], 200, "application/json", b"[]"),
        (Point(1, 2), 200, "application/json", b'{"x":1,"y":2}'),
        ("hi", 200, "text/html; charset=utf-8", "hi"),
        (b"raw", 200, "application/octet-stream", b"raw"),
        (bytearray(b"ba"), 200, "application/octet-stream", b"ba"),
        (memoryview(b"mv"), 200, "application/octet-stream", b"mv"),
        (None, 204, None, b""),
    ],
)
def test_plain_values(value, status, content_type, body):
    response = to_response(value)
    assert response.status == status
    assert response.header("content-type") == content_type
    assert response.body == body


def test_responses_pass_through_unchanged():
    response = Response("x")
    assert to_response(response) is response
    json_response = JSONResponse({})
    assert to_response(json_response) is json_response


def test_tuples():
    response = to_response(({"id": 1}, 201, {"Location": "/items/1"}))
    assert (response.status, response.header("location")) == (201, "/items/1")
    assert to_response(("x", 304)).body == b""


@pytest.mark.parametrize(
    "value",
    [
        ("x",),
        ("x", 200, {}, 1),
        ("x", "200"),
        ("x", True),
        ("x", 99),
        ("x", 600),
        ("x", 200, ["h"]),
        object(),
        1.5,
        {1, 2},
    ],
)
def test_impossible_values_are_a_type_error(value):
    with pytest.raises(TypeError):
        to_response(value)
