"""Framework error pages: themed, self-contained and always escaped."""

from __future__ import annotations

import re

import pytest

from gobstopper.templates.error_pages import render_debug_page, render_error_page

XSS = '<script>alert("x")</script>'


def raise_chained() -> None:
    try:
        {}["<missing-key>"]
    except KeyError as exc:
        raise RuntimeError(f"could not render {XSS}") from exc


def test_error_page_shows_status_title_and_message() -> None:
    page = render_error_page(404, "Not Found", "The page you asked for does not exist.")

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>404 Not Found</title>" in page
    assert '<p class="status">404</p>' in page
    assert "<h1>Not Found</h1>" in page
    assert "The page you asked for does not exist." in page


def test_error_page_escapes_every_input() -> None:
    page = render_error_page(404, f"Not Found {XSS}", f"No page at /{XSS}")

    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 3


def test_error_page_uses_no_external_assets() -> None:
    page = render_error_page(500, "Internal Server Error", "Something went wrong.")

    assert "<style>" in page
    assert not re.search(r"https?://|<link|<script|\bsrc=|@import", page)


def test_debug_page_shows_type_message_and_traceback() -> None:
    try:
        raise_chained()
    except RuntimeError as exc:
        page = render_debug_page(exc, {"method": "GET", "path": "/report"})

    assert "<h1>RuntimeError</h1>" in page
    assert "could not render &lt;script&gt;" in page
    assert "raise_chained" in page
    assert "KeyError: &#x27;&lt;missing-key&gt;&#x27;" in page
    assert "<tr><th>method</th><td>GET</td></tr>" in page
    assert "<tr><th>path</th><td>/report</td></tr>" in page


def test_debug_page_escapes_every_input() -> None:
    class Evil(Exception):
        pass

    Evil.__qualname__ = XSS
    page = render_debug_page(Evil(XSS), {XSS: XSS})

    assert "<script>" not in page
    assert page.count("&lt;script&gt;") >= 5


def test_debug_page_names_the_module_of_non_builtin_exceptions() -> None:
    import json

    try:
        json.loads("{")
    except json.JSONDecodeError as exc:
        page = render_debug_page(exc, {})

    assert "<h1>json.decoder.JSONDecodeError</h1>" in page


def test_a_message_that_repeats_the_title_is_not_shown_twice() -> None:
    page = render_error_page(404, "Not Found", "Not Found")

    assert page.count("Not Found") == 2  # <title> and <h1>
    assert "<p>Not Found</p>" not in page


# -- the pages the framework answers with ------------------------------------------------
HTML = {"accept": "text/html,application/xhtml+xml"}


def error_app():
    from gobstopper import Gobstopper
    from gobstopper.http.errors import abort

    app = Gobstopper(__name__)

    @app.get("/only-get")
    async def only_get(request):
        return "ok"

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("secret detail")

    @app.get("/admins")
    async def admins(request):
        abort(403, "Admins only")

    return app


@pytest.mark.parametrize(
    ("method", "path", "status", "phrase", "message"),
    [
        ("GET", "/missing", 404, "Not Found", None),
        ("POST", "/only-get", 405, "Method Not Allowed", None),
        ("GET", "/boom", 500, "Internal Server Error", None),
        ("GET", "/admins", 403, "Forbidden", "Admins only"),
    ],
)
def test_default_error_pages_read_status_and_phrase_in_html_and_json(
    method: str, path: str, status: int, phrase: str, message: str | None
) -> None:
    from gobstopper.testing import TestClient

    with TestClient(error_app()) as client:
        page = client.request(method, path, headers=HTML)
        data = client.request(method, path, headers={"accept": "application/json"})
    assert page.status_code == data.status_code == status
    assert f"<title>{status} {phrase}</title>" in page.text
    assert f'<p class="status">{status}</p>\n<h1>{phrase}</h1>' in page.text
    assert ("<p>" in page.text) is (message is not None)
    assert data.json() == {"error": message or phrase, "status": status}
    assert "secret detail" not in page.text + data.text
