"""The fast paths of a middleware chain keep the slow paths' answers.

A static async handler's answer is coerced in the chain without a call when it
is already a response, and a header dict is checked at send against the names
and values already found safe, scanning only new ones (anything that is not a
plain printable str takes the slow path). These tests pin what each path must
still do.
"""

from __future__ import annotations

from typing import Any

import pytest

from gobstopper import Gobstopper
from gobstopper.http import response as response_module
from gobstopper.http.response import BaseResponse, HeaderInjectionError, Response
from gobstopper.testing import TestClient


class Tagged(BaseResponse):
    """A response kind of the app's own: not a Response, still a BaseResponse."""

    __slots__ = ()


@pytest.mark.parametrize(
    ("returned", "status", "body"),
    [
        ("text", 200, "text"),
        ({"a": 1}, 200, '{"a":1}'),
        (("made", 201), 201, "made"),
        (None, 204, ""),
    ],
)
def test_call_next_answers_a_response_for_a_static_async_handler(returned, status, body):
    app = Gobstopper(__name__)
    seen: list[Any] = []

    async def innermost(request, call_next):
        response = await call_next(request)
        seen.append(response)
        response.headers["x-seen"] = type(response).__name__
        return response

    app.add_middleware(innermost)

    @app.get("/value")
    async def value(request):
        return returned

    with TestClient(app) as client:
        answer = client.get("/value")
    assert isinstance(seen[0], BaseResponse)
    assert (answer.status_code, answer.text) == (status, body)
    assert answer.headers["x-seen"] == "Response"


def test_a_handlers_own_response_object_reaches_call_next_unchanged():
    app = Gobstopper(__name__)
    made: list[BaseResponse] = []
    seen: list[BaseResponse] = []

    async def outer(request, call_next):
        return await call_next(request)

    async def inner(request, call_next):
        response = await call_next(request)
        seen.append(response)
        return response

    app.add_middleware(outer, priority=1)
    app.add_middleware(inner)

    @app.get("/tagged")
    async def tagged(request):
        made.append(Tagged(202, {"x-kind": "tagged"}))
        return made[-1]

    with TestClient(app) as client:
        answer = client.get("/tagged")
    assert seen == made and seen[0] is made[0]
    assert (answer.status_code, answer.headers["x-kind"]) == (202, "tagged")


def test_a_line_break_added_by_middleware_is_refused_at_send():
    app = Gobstopper(__name__)

    async def evil(request, call_next):
        response = await call_next(request)
        response.headers["x-evil"] = "1\r\nSet-Cookie: a=b"
        return response

    app.add_middleware(evil)

    @app.get("/plain")
    async def plain(request):
        return Response("ok", content_type="text/plain")

    with TestClient(app) as client:
        answer = client.get("/plain")
    assert answer.status_code == 500
    assert "x-evil" not in answer.headers and "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Late", "a\r\nb"), ("X-Late", "a\nb"), ("X-Late", "a\x00"), ("X-\nLate", "a")],
)
def test_headers_added_to_a_content_type_only_response_are_checked(name, value):
    response = Response("x", content_type="text/plain")
    response.headers["x-fine"] = "1"
    response.headers[name] = value
    with pytest.raises(HeaderInjectionError):
        response.to_rsgi_headers()


class Text(str):
    """A str subclass whose own ``isprintable`` would wave anything through."""

    def isprintable(self) -> bool:
        return True


def test_the_check_uses_strs_own_test_not_a_subclasss():
    response = Response("x", content_type="text/plain")
    response.headers[Text("X-A")] = Text("line\r\nbreak")
    with pytest.raises(HeaderInjectionError):
        response.to_rsgi_headers()
    fine = Response("x", content_type="text/plain")
    fine.headers["X-A"] = Text("plain")
    assert fine.to_rsgi_headers() == [("content-type", "text/plain"), ("X-A", "plain")]


def test_other_controls_and_non_str_pairs_take_the_slow_path_and_are_sent_as_text():
    response = Response("x", content_type="text/plain")
    response.headers["X-Tab"] = "a\tb"
    response.headers["X-Sep"] = "a\u2028b"
    response.headers["X-Count"] = 5  # type: ignore[assignment]
    response.headers[7] = "seven"  # type: ignore[index]
    headers = response.to_rsgi_headers()
    assert headers == [
        ("content-type", "text/plain"),
        ("X-Tab", "a\tb"),
        ("X-Sep", "a\u2028b"),
        ("X-Count", "5"),
        ("7", "seven"),
    ]
    assert all(type(name) is str and type(value) is str for name, value in headers)


def test_a_remembered_value_does_not_vouch_for_a_longer_one():
    sent = Response("x", content_type="text/plain")
    sent.headers["x-user"] = "alice"
    sent.to_rsgi_headers()
    assert "alice" in response_module._known_safe
    forged = Response("x", content_type="text/plain")
    forged.headers["x-user"] = "alice\r\nSet-Cookie: admin=1"
    with pytest.raises(HeaderInjectionError):
        forged.to_rsgi_headers()
    assert "alice\r\nSet-Cookie: admin=1" not in response_module._known_safe


def test_values_that_never_repeat_keep_the_memory_bounded():
    for number in range(3 * response_module._KNOWN_MAX):
        response = Response("x", content_type="text/plain")
        response.headers["x-request-id"] = f"id-{number}"
        assert response.to_rsgi_headers()[1] == ("x-request-id", f"id-{number}")
        assert len(response_module._known_safe) <= response_module._KNOWN_MAX


def test_a_long_value_is_checked_each_time_and_not_remembered():
    long_value = "a" * (response_module._KNOWN_LENGTH + 1)
    for _ in range(2):
        response = Response("x", content_type="text/plain")
        response.headers["x-long"] = long_value
        assert response.to_rsgi_headers()[1] == ("x-long", long_value)
    assert long_value not in response_module._known_safe
    response.headers["x-long"] = long_value + "\n"
    with pytest.raises(HeaderInjectionError):
        response.to_rsgi_headers()
