"""The chat example's page in headless Chromium, served by a real Granian server.

Chromium compiles an input's ``pattern`` with the RegExp ``v`` flag, where an
unescaped ``-`` in a character class is a syntax error: the pattern is then
ignored (and a console error logged), so no room name is ever refused by the page.
"""

from __future__ import annotations

import httpx
import pytest

from tests.browser import Browser, headless_chromium
from tests.servers import ROOT, RunningServer, granian_server

pytestmark = pytest.mark.e2e

RULE = "Room names are 1 to 32 letters, digits, _ or -."
STATUS = 'return document.getElementById("status").textContent'


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory):
    with granian_server(
        "examples.chat:app", tmp_path_factory.mktemp("chat"), app_dir=ROOT
    ) as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


@pytest.fixture
def page(chat: RunningServer, browser: Browser) -> Browser:
    """The chat page, freshly loaded, with the console log emptied."""
    browser.open(chat.url + "/")
    browser.console_errors()
    return browser


def join(page: Browser, room: str, *, keep_pattern: bool = True) -> None:
    """Type ``room`` and click Join (without the pattern, as a page that lacks it would)."""
    page.run(
        'const room = document.getElementById("room");'
        "if (!arguments[1]) room.removeAttribute('pattern');"
        "room.value = arguments[0];",
        room,
        keep_pattern,
    )
    page.click("#join button")


def test_the_room_pattern_compiles_in_chromium_and_checks_names(page: Browser):
    names = ["lobby", "Room_1-a", "x" * 32, "bad room", "x" * 33, "a/b", "dash-", ""]
    validity = page.run(
        'const room = document.getElementById("room");'
        "return arguments[0].map((name) => {"
        "  room.value = name; return room.checkValidity(); });",
        names,
    )
    assert validity == [True, True, True, False, False, False, True, False]
    assert [error for error in page.console_errors() if "pattern" in error.lower()] == []


def test_a_valid_room_is_joined(page: Browser):
    join(page, "lobby")
    assert page.wait_for(STATUS, lambda text: text != "Joining room lobby...") == "In room lobby."
    welcome = page.wait_for(
        'return document.getElementById("log").textContent', lambda text: "Welcome" in text
    )
    assert welcome.startswith("Welcome, guest-")


def test_a_room_the_page_refuses_shows_the_rule_and_never_connects(
    page: Browser, chat: RunningServer
):
    join(page, "bad room")
    assert (
        page.wait_for(STATUS, lambda text: text != "Not connected.")
        == f'Cannot join "bad room". {RULE}'
    )
    assert "bad room" not in httpx.get(chat.url + "/rooms").json()["rooms"]


def test_a_room_the_server_refuses_shows_the_reason_on_the_page(page: Browser):
    join(page, "bad room", keep_pattern=False)
    assert (
        page.wait_for(STATUS, lambda text: "refused" in text)
        == f'The server refused room "bad room". {RULE}'
    )
    assert page.run('return document.getElementById("text").disabled') is True
