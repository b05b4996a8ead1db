"""Framework error pages: themed, self-contained and always escaped."""

from __future__ import annotations

import re

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
