"""Set-Cookie building (secure defaults, injection-proof) and Cookie parsing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from gobstopper import Gobstopper, Response
from gobstopper.http.cookies import build_delete_cookie, build_set_cookie, parse_cookie_header
from gobstopper.testing import TestClient


@pytest.fixture(autouse=True)
def _development(monkeypatch):
    monkeypatch.delenv("ENV", raising=False)
    monkeypatch.delenv("WOPR_ALLOW_INSECURE_COOKIES", raising=False)


def test_secure_defaults():
    assert build_set_cookie("session_id", "abc123") == (
        "session_id=abc123; Path=/; Secure; HttpOnly; SameSite=Strict"
    )


def test_all_attributes():
    cookie = build_set_cookie(
        "auth_token",
        "t",
        path="/app",
        domain=".example.com",
        max_age=3600,
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        samesite="lax",
    )
    assert cookie == (
        "auth_token=t; Path=/app; Domain=.example.com; Max-Age=3600; "
        "Expires=Wed, 02 Jan 2030 03:04:05 GMT; Secure; HttpOnly; SameSite=Lax"
    )


def test_naive_expiry_is_taken_as_utc_and_strings_pass_through():
    assert "Expires=Wed, 02 Jan 2030 03:04:05 GMT" in build_set_cookie(
        "n", "v", expires=datetime(2030, 1, 2, 3, 4, 5)
    )
    assert "Expires=Thu, 01 Jan 2030 00:00:00 GMT" in build_set_cookie(
        "n", "v", expires="Thu, 01 Jan 2030 00:00:00 GMT"
    )


def test_insecure_flags_are_allowed_in_development():
    assert build_set_cookie("debug", "1", secure=False, httponly=False, samesite=None) == (
        "debug=1; Path=/"
    )


@pytest.mark.parametrize(
    "value",
    [
        "a;b",
        "x; Domain=evil.example",
        "a,b",
        "with space",
        'quote"d',
        "back\\slash",
        "café",
        "ünï €",
    ],
)
def test_values_that_could_inject_attributes_are_quoted_and_round_trip(value):
    cookie = build_set_cookie("n", value)
    raw_value = cookie.split("; Path=/")[0][2:]
    assert raw_value.startswith('"') and raw_value.endswith('"')
    assert ";" not in raw_value and "," not in raw_value and " " not in raw_value
    assert cookie.count(";") == 4  # exactly the four attribute separators
    assert parse_cookie_header(f"n={raw_value}") == {"n": value}


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "nul\x00", "tab\t", "\x7f"])
def test_control_characters_in_values_are_rejected(value):
    with pytest.raises(ValueError, match="control characters"):
        build_set_cookie("n", value)


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "a\r\nb", "ü", "a,b", '"a"'])
def test_invalid_names_are_rejected(name):
    with pytest.raises(ValueError, match="invalid cookie name"):
        build_set_cookie(name, "v")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "/a;Domain=x"}, "path"),
        ({"domain": "x.com\r\n"}, "domain"),
        ({"expires": "Thu; x"}, "expires"),
        ({"samesite": "sometimes"}, "samesite"),
        ({"samesite": "None", "secure": False}, "requires secure=True"),
    ],
)
def test_invalid_attributes_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_set_cookie("n", "v", **kwargs)


def test_production_upgrades_insecure_flags_with_warnings(monkeypatch, caplog):
    monkeypatch.setenv("ENV", "production")
    with caplog.at_level(logging.WARNING, logger="gobstopper.cookies"):
        cookie = build_set_cookie("debug", "1", secure=False, httponly=False, samesite=None)
    assert cookie == "debug=1; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert len(caplog.records) == 3


@pytest.mark.parametrize("flag", ["true", "1", "yes"])
def test_allow_insecure_cookies_opts_out_in_production(monkeypatch, flag):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("WOPR_ALLOW_INSECURE_COOKIES", flag)
    assert build_set_cookie("debug", "1", secure=False) == (
        "debug=1; Path=/; HttpOnly; SameSite=Strict"
    )


def test_delete_cookie_expires_with_matching_path_and_domain():
    cookie = build_delete_cookie("cart_id", path="/shop", domain=".example.com")
    assert cookie.startswith(
        "cart_id=; Path=/shop; Domain=.example.com; Max-Age=0; "
        "Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1; a=2", {"a": "1"}),
        ('q="a b"', {"q": "a b"}),
        ("novalue; x=1", {"x": "1"}),
        ("=bare; y=2", {"y": "2"}),
        ("  spaced =  v  ", {"spaced": "v"}),
        ("e=a=b=c", {"e": "a=b=c"}),
        ('odd="unterminated', {"odd": '"unterminated'}),
        ('esc="\\q\\777\\101\\"x"', {"esc": 'q777A"x'}),
        ("", {}),
    ],
)
def test_parse_cookie_header(header, cookies):
    assert parse_cookie_header(header) == cookies


def test_cookies_through_the_app_and_the_test_client_jar():
    app = Gobstopper("cookies")

    @app.get("/login")
    async def login(request):
        response = Response("Welcome")
        response.set_cookie("session_id", "abc 123;x")
        response.set_cookie("user_pref", "dark_mode", max_age=86400 * 30)
        return response

    @app.get("/whoami")
    async def whoami(request):
        return dict(request.cookies)

    @app.get("/logout")
    async def logout(request):
        response = Response("Logged out")
        response.delete_cookie("session_id")
        return response

    with TestClient(app) as client:
        login_response = client.get("/login")
        assert len(login_response.headers.get_all("set-cookie")) == 2
        assert client.get("/whoami").json() == {"session_id": "abc 123;x", "user_pref": "dark_mode"}
        client.get("/logout")
        assert client.get("/whoami").json() == {"user_pref": "dark_mode"}
