"""The /docs page in headless Chromium, served by a real Granian server.

The page must render every operation of the document, log no error (a
CSP violation would be one), fetch nothing but the app's own URLs, and
"Try it out" must reach the API from the page.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.browser import Browser, headless_chromium
from tests.servers import RunningServer, granian_server

pytestmark = pytest.mark.e2e

OPERATIONS = "return document.querySelectorAll('.opblock').length"
SHOWN_PATHS = (
    "return Array.from(document.querySelectorAll('.opblock-summary-path'))"
    ".map((e) => e.dataset.path)"
)
RESOURCES = "return performance.getEntriesByType('resource').map((e) => e.name)"
LIST_PETS = '.opblock-get:has(.opblock-summary-path[data-path="/pets/"])'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with granian_server("openapi_app:app", tmp_path_factory.mktemp("openapi-docs")) as running:
        yield running


@pytest.fixture(scope="module")
def page(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as browser:
        browser.open(server.url + "/docs")
        yield browser


def test_the_page_shows_every_operation_of_the_document(page: Browser, server: RunningServer):
    document = httpx.get(server.url + "/openapi.json").json()
    expected = sum(len(item) for item in document["paths"].values())
    assert page.wait_for(OPERATIONS, lambda count: count == expected) == expected
    assert set(page.run(SHOWN_PATHS)) | {"/pets/{pet_id}"} == set(document["paths"])
    title = page.run("return document.querySelector('.info .title').textContent")
    assert title.startswith("Pet store")
    assert page.console_errors() == []


def test_every_request_the_page_made_went_to_the_app(page: Browser, server: RunningServer):
    page.wait_for(OPERATIONS, lambda count: count > 0)
    resources = page.run(RESOURCES)
    assert f"{server.url}/openapi.json" in resources
    assert [url for url in resources if not url.startswith(server.url + "/")] == []


def test_try_it_out_calls_the_api_from_the_page(page: Browser):
    page.wait_for(OPERATIONS, lambda count: count > 0)
    for button in (".opblock-summary-control", ".try-out__btn", ".execute"):
        page.click(f"{LIST_PETS} {button}")
    status = page.wait_for(
        f"const cell = document.querySelector('{LIST_PETS} .live-responses-table tbody "
        ".response-col_status'); return cell ? cell.textContent.trim() : null",
        lambda text: text is not None,
    )
    assert status == "200"
    body = page.run(
        f"return document.querySelector('{LIST_PETS} .live-responses-table pre').textContent"
    )
    assert '"name": "Rex"' in body
    assert page.console_errors() == []
