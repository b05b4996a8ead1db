"""Request: every documented property, lazily parsed and cached."""

from __future__ import annotations

import logging

import pytest

from gobstopper import Gobstopper
from gobstopper.http.errors import BadRequest
from gobstopper.http.query import MAX_QUERY_PARAMS
from gobstopper.http.request import Request
from gobstopper.testing import FakeHeaders, FakeHTTPProtocol, TestClient, build_request


class CountingHeaders(FakeHeaders):
    """Headers that count how often they are read."""

    def __init__(self, items):
        super().__init__(items)
        self.reads = 0

    def items(self):
        self.reads += 1
        return super().items()


def make_request(url: str = "/path?a=1&a=2&b=", headers=None, client="10.1.2.3:4444"):
    scope, body = build_request("GET", url, headers=headers or {}, client=client)
    scope.headers = CountingHeaders(scope.headers.items())
    return Request(scope, FakeHTTPProtocol(body))


def test_request_has_slots_and_accepts_request_scoped_attributes():
    request = make_request()
    assert "__slots__" in Request.__dict__
    request.user = "alice"  # the reference's before_request example
    assert request.user == "alice"


def test_request_line_properties():
    request = make_request("/api/users/123?page=1&limit=10")
    assert request.method == "GET"
    assert request.path == "/api/users/123"
    assert request.query_string == "page=1&limit=10"
    assert repr(request) == "<Request GET /api/users/123>"


def test_args_keep_multiple_and_blank_values_and_are_cached():
    request = make_request("/filter?tag=python&tag=web&tag=async&empty=&x=%41+b")
    args = request.args
    assert args == {"tag": ["python", "web", "async"], "empty": [""], "x": ["A b"]}
    assert request.args is args
    assert make_request("/nothing").args == {}


def test_too_many_query_parameters_is_a_bad_request():
    query = "&".join(f"k{i}=v" for i in range(MAX_QUERY_PARAMS + 1))
    with pytest.raises(BadRequest, match="Too many query parameters"):
        _ = make_request("/q?" + query).args
    assert (
        len(make_request("/q?" + "&".join(f"k{i}=v" for i in range(MAX_QUERY_PARAMS))).args)
        == MAX_QUERY_PARAMS
    )


def test_headers_are_lowercase_joined_lazy_and_cached():
    request = make_request(headers={"X-Api-Key": "k", "Accept": "text/html"})
    assert request.scope.headers.reads == 0
    headers = request.headers
    assert headers["x-api-key"] == "k" and headers["accept"] == "text/html"
    assert request.headers is headers and request.cookies == {}
    assert request.scope.headers.reads == 1


def test_cookies_are_read_without_building_the_header_dict():
    request = make_request(headers={"Cookie": "session_id=abc; theme=dark", "Accept": "*/*"})
    assert request.cookies == {"session_id": "abc", "theme": "dark"}
    assert request.scope.headers.reads == 0
    assert make_request().cookies == {}


def test_repeated_headers_are_joined_and_cookies_with_semicolons():
    scope, _ = build_request("GET", "/")
    scope.headers = FakeHeaders([("x-a", "1"), ("x-a", "2"), ("cookie", "a=1"), ("cookie", "b=2")])
    request = Request(scope, None)
    assert request.headers["x-a"] == "1, 2"
    assert request.cookies == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("text/plain", False),
        ("", False),
    ],
)
def test_is_json(content_type, expected):
    headers = {"content-type": content_type} if content_type else {}
    assert make_request(headers=headers).is_json is expected


def test_urls_and_hosts():
    request = make_request("/search?q=python&page=2", headers={"host": "localhost:8000"})
    assert request.scheme == "http"
    assert request.host == "localhost:8000"
    assert request.host_url == "http://localhost:8000"
    assert request.base_url == "http://localhost:8000/search"
    assert request.url == "http://localhost:8000/search?q=python&page=2"
    assert request.root_path == ""


def test_base_url_quotes_decoded_paths():
    assert make_request("/a%20b/caf%C3%A9").base_url == "http://testserver/a%20b/caf%C3%A9"


def test_host_falls_back_to_authority_then_server():
    scope, _ = build_request("GET", "/")
    scope.headers = FakeHeaders([])
    assert Request(scope, None).host == "testserver:80"
    scope.authority = "example.com"
    assert Request(scope, None).host == "example.com"


def test_client_ip_is_the_peer_by_default():
    request = make_request(headers={"x-forwarded-for": "1.2.3.4"})
    assert request.client_ip == "10.1.2.3"
    assert request.peer_ip == "10.1.2.3"
    assert make_request(client="").client_ip == "unknown"


def test_identity_session_and_logger():
    request = make_request()
    assert request.session is None and request.session_id is None
    assert len(request.id) == 32 and request.id == request.id
    assert make_request().id != request.id
    assert request.logger is logging.getLogger("gobstopper")
    with pytest.raises(AttributeError):
        request.session_id = "x"  # type: ignore[misc]
    request.attach_session({"user": 1}, "sid")
    assert request.session == {"user": 1} and request.session_id == "sid"
    assert make_request().session_id is None  # per request, not per class


def test_routing_attributes_default_empty():
    request = make_request()
    assert request.app is None and request.endpoint is None and request.url_rule is None
    assert request.view_args == {}
    assert request.routing_exception is None


async def test_body_size_and_json_depth_limit_are_public():
    scope, body = build_request("POST", "/", content=b"payload")
    request = Request(scope, FakeHTTPProtocol(body))
    assert request.body_size is None  # not read yet
    await request.get_data()
    assert request.body_size == len(b"payload")
    assert request.json_depth_limit == 64  # max_json_depth None: the default
    request.max_json_depth = 3
    assert request.json_depth_limit == 3


async def test_get_data_reads_once_and_get_body_is_an_alias():
    scope, body = build_request("POST", "/", content=b"payload")
    proto = FakeHTTPProtocol(body)
    request = Request(scope, proto)
    assert await request.get_data() == b"payload"
    assert await request.get_body() == b"payload"
    assert await request.get_data() is await request.get_data()


def test_properties_inside_a_real_app():
    app = Gobstopper("props")

    @app.get("/info/<int:n>")
    async def info(request, n):
        return {
            "method": request.method,
            "path": request.path,
            "qs": request.query_string,
            "args": request.args,
            "ip": request.client_ip,
            "url": request.url,
            "endpoint": request.endpoint,
            "rule": request.url_rule,
            "view_args": request.view_args,
            "logger": request.logger.name,
            "cookies": request.cookies,
            "is_json": request.is_json,
        }

    with TestClient(app) as client:
        data = client.get("/info/5?x=1", headers={"cookie": "c=3"}).json()
    assert data == {
        "method": "GET",
        "path": "/info/5",
        "qs": "x=1",
        "args": {"x": ["1"]},
        "ip": "127.0.0.1",
        "url": "http://testserver/info/5?x=1",
        "endpoint": "info",
        "rule": "/info/<int:n>",
        "view_args": {"n": 5},
        "logger": "props",
        "cookies": {"c": "3"},
        "is_json": False,
    }
