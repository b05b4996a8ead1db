"""Response, JSONResponse and redirect: bodies, headers, cookies, one RSGI call."""

from __future__ import annotations

import pytest

from gobstopper.http.request import Request
from gobstopper.http.response import HeaderInjectionError, JSONResponse, Response, redirect
from gobstopper.testing import FakeHTTPProtocol, build_request


@pytest.fixture(autouse=True)
def _development(monkeypatch):
    monkeypatch.delenv("ENV", raising=False)


def sent(response, head: bool = False) -> FakeHTTPProtocol:
    proto = FakeHTTPProtocol(b"")
    request = Request(build_request("HEAD" if head else "GET", "/")[0], proto)
    if head:
        response.send_head(proto, request)
    else:
        assert response.send(proto, request) is None
    return proto


def test_to_rsgi_headers_matches_the_documented_example():
    response = Response("OK", headers={"X-Custom": "value"})
    response.set_cookie("session", "abc123")
    assert response.to_rsgi_headers() == [
        ("content-type", "text/html; charset=utf-8"),
        ("X-Custom", "value"),
        ("set-cookie", "session=abc123; Path=/; Secure; HttpOnly; SameSite=Strict"),
    ]


def test_each_cookie_is_its_own_header():
    response = Response("x")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    response.delete_cookie("c")
    cookies = [v for k, v in response.to_rsgi_headers() if k == "set-cookie"]
    assert [c.split("=")[0] for c in cookies] == ["a", "b", "c"]


def test_added_header_lines_follow_the_dict_in_order_and_keep_same_named_ones():
    response = Response("x", headers={"Link": "</a>; rel=preload"})
    response.set_cookie("a", "1")
    response.add_header("Link", "</b>; rel=preload")
    response.add_header("X-Request-ID", "abc-1")
    assert response.to_rsgi_headers() == [
        ("content-type", "text/html; charset=utf-8"),
        ("Link", "</a>; rel=preload"),
        ("set-cookie", "a=1; Path=/; Secure; HttpOnly; SameSite=Strict"),
        ("Link", "</b>; rel=preload"),
        ("X-Request-ID", "abc-1"),
    ]
    # Added lines stay out of the dict, as cookies do.
    assert sorted(response.headers) == ["Link", "content-type"]
    assert sent(response).headers[-1] == ("X-Request-ID", "abc-1")


def test_an_added_header_line_on_a_plain_response_is_sent_with_its_content_type():
    response = JSONResponse({"ok": True})
    response.add_header("X-Request-ID", "abc-2")
    assert sent(response).headers == [
        ("content-type", "application/json"),
        ("X-Request-ID", "abc-2"),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Id", "a\r\nSet-Cookie: x=1"), ("X-Id", "a\nb"), ("X-Id", "a\x00"), ("X-\rId", "a")],
)
def test_add_header_refuses_line_breaks_and_nul(name, value):
    response = Response("x")
    with pytest.raises(HeaderInjectionError):
        response.add_header(name, value)
    assert response.to_rsgi_headers() == [("content-type", "text/html; charset=utf-8")]


def test_add_header_keeps_a_tab_which_is_legal_in_a_value():
    response = Response("x")
    response.add_header("X-Note", "a\tb")
    assert response.to_rsgi_headers()[-1] == ("X-Note", "a\tb")


@pytest.mark.parametrize(
    ("body", "kwargs", "content_type"),
    [
        ("Hello World", {}, "text/html; charset=utf-8"),
        (b"\x89PNG", {}, "application/octet-stream"),
        (b"\x89PNG", {"content_type": "image/png"}, "image/png"),
        ("<h1>Welcome</h1>", {"content_type": "text/html"}, "text/html"),
        ("x", {"headers": {"Content-Type": "text/csv"}}, "text/csv"),
    ],
)
def test_content_type_detection(body, kwargs, content_type):
    response = Response(body, **kwargs)
    assert response.header("content-type") == content_type
    assert [k for k, _ in response.to_rsgi_headers()].count(
        next(k for k in response.headers if k.lower() == "content-type")
    ) == 1


def test_one_protocol_call_per_body_kind():
    assert sent(Response("text")).calls == ["response_str"]
    assert sent(Response(b"bytes")).calls == ["response_bytes"]
    assert sent(Response(bytearray(b"ba"))).chunks == [b"ba"]
    assert sent(Response("", status=204)).calls == ["response_empty"]
    assert sent(Response(None)).calls == ["response_bytes"]  # type: ignore[arg-type]


def test_status_code_alias_and_header_lookup():
    response = Response("Error message", status=400, headers={"X-A": "1"})
    assert response.status == response.status_code == 400
    assert response.header("x-a") == "1" and response.header("missing", "d") == "d"
    assert "400" in repr(response)


def test_non_text_bodies_are_a_type_error():
    with pytest.raises(TypeError, match="str or bytes"):
        Response({"a": 1})  # type: ignore[arg-type]


def test_head_sends_length_without_body():
    proto = sent(Response("héllo"), head=True)
    assert proto.calls == ["response_empty"]
    assert ("content-length", str(len("héllo".encode()))) in proto.headers
    no_body = sent(Response("", status=304), head=True)
    assert all(name != "content-length" for name, _ in no_body.headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nSet-Cookie: x=1"},
        {"X-Evil": "a\nb"},
        {"X-Evil\r\n": "v"},
        {"X-Nul": "a\x00b"},
    ],
)
def test_header_injection_is_rejected_at_construction(headers):
    with pytest.raises(HeaderInjectionError):
        Response("x", headers=headers)


def test_header_injection_added_later_is_rejected_before_sending():
    response = Response("x")
    response.headers["x-late"] = "1\r\n\r\n<script>"
    with pytest.raises(HeaderInjectionError):
        response.to_rsgi_headers()
    with pytest.raises(HeaderInjectionError):
        Response("x", content_type="text/html\r\nX-Evil: 1")


def test_non_string_header_values_are_sent_as_text():
    response = Response("x", headers={"X-Count": 5})  # type: ignore[dict-item]
    assert ("X-Count", "5") in response.to_rsgi_headers()


def test_json_response():
    response = JSONResponse({"message": "Success", "data": [1, 2]})
    assert response.body == b'{"message":"Success","data":[1,2]}'
    assert response.header("content-type") == "application/json"
    assert JSONResponse([1, 2, 3, 4, 5]).body == b"[1,2,3,4,5]"
    not_found = JSONResponse({"error": "Not found"}, status=404, headers={"X-A": "b"})
    assert not_found.status == 404 and not_found.header("x-a") == "b"


def test_json_response_encodes_sets_and_decimals_and_rejects_the_rest():
    import decimal

    assert JSONResponse({"s": {1}, "d": decimal.Decimal("1.10")}).body == b'{"s":[1],"d":"1.10"}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        JSONResponse({"o": object()})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect(status):
    response = redirect("/new-location", status=status)
    assert response.status == status
    assert response.header("location") == "/new-location"


def test_redirect_defaults_and_errors():
    assert redirect("https://example.com/login").status == 302
    with pytest.raises(ValueError, match="3xx"):
        redirect("/x", status=200)
    with pytest.raises(HeaderInjectionError):
        redirect("/x\r\nSet-Cookie: a=b")


# -- the class hierarchy the reference documents ---------------------------------
def test_every_documented_response_subclass_is_a_response_in_an_after_request_hook(tmp_path):
    """JSONResponse and FileResponse are "Bases: Response" in the reference."""
    from gobstopper import Gobstopper
    from gobstopper.http.response import FileResponse
    from gobstopper.testing import TestClient

    page = tmp_path / "page.txt"
    page.write_text("file body")
    app = Gobstopper(__name__)
    seen: dict[str, bool] = {}

    @app.get("/json")
    async def json_route(request):
        return JSONResponse({"ok": True})

    @app.get("/file")
    async def file_route(request):
        return FileResponse(page)

    @app.after_request
    async def record(request, response):
        seen[request.path] = isinstance(response, Response)
        response.headers["x-hooked"] = "1"

    with TestClient(app) as client:
        for path in ("/json", "/file"):
            assert client.get(path).headers["x-hooked"] == "1"
        assert client.get("/file").content == b"file body"
    assert seen == {"/json": True, "/file": True}


def test_a_file_response_is_a_response_with_an_empty_body_sent_from_disk(tmp_path):
    from gobstopper.http.response import FileResponse

    page = tmp_path / "page.txt"
    page.write_text("on disk")
    response = FileResponse(page)
    assert isinstance(response, Response) and response.body == b""
    assert sent(response).calls == ["response_file"]
