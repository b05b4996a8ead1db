"""Headless Chromium for page tests, driven through chromedriver's W3C WebDriver API.

The protocol is plain JSON over HTTP, so ``httpx`` (already a test dependency) is
the whole client: open a URL, run a script, click, read the console. Needs the
Debian packages ``chromium`` and ``chromium-driver``; without them the tests skip,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.servers import RunningServer, _running, free_port, require_program

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# The W3C key naming an element in WebDriver replies.
_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Browser:
    """One WebDriver session: a headless Chromium tab."""

    def __init__(self, client: httpx.Client, session_id: str) -> None:
        self._client = client
        self._session = f"/session/{session_id}"

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        reply = self._client.request(method, self._session + path, json=payload)
        value = reply.json()["value"]
        if reply.is_error:
            raise AssertionError(f"WebDriver {path}: {value.get('message', value)}")
        return value

    def open(self, url: str) -> None:
        """Load ``url`` and wait for it to finish loading."""
        self._call("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments[i]`` are ``args``) and return its value."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def click(self, css: str, timeout: float = 10.0) -> None:
        """Click the first element matching ``css`` as a user would (trusted events).

        Waits (bounded) for the element first: a page may render it a moment
        after the click that reveals it (React batches its updates).
        """
        self.wait_for(f"return document.querySelector({json.dumps(css)}) !== null", bool, timeout)
        found = self._call("POST", "/element", {"using": "css selector", "value": css})
        self._call("POST", f"/element/{found[_ELEMENT]}/click", {})

    def screenshot(self, path: Path) -> bytes:
        """Save a PNG of the page as shown to ``path`` (test output, never the repo); return it."""
        png = base64.b64decode(self._call("GET", "/screenshot"))
        path.write_bytes(png)
        return png

    def console_errors(self) -> list[str]:
        """Console errors logged since the last call (Chromium's browser log)."""
        entries = self._call("POST", "/se/log", {"type": "browser"})
        return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]

    def wait_for(self, script: str, check: Any, timeout: float = 10.0) -> Any:
        """Poll ``script`` until ``check(value)`` holds; at the deadline, fail with its value."""
        end = time.monotonic() + timeout
        while True:
            value = self.run(script)
            if check(value):
                return value
            if time.monotonic() > end:
                raise AssertionError(f"still {value!r} after {timeout}s")
            time.sleep(0.05)


@contextmanager
def headless_chromium(tmp_path: Path) -> Iterator[Browser]:
    """Start chromedriver on a free port and open a headless Chromium session."""
    install = "Debian: apt-get install chromium chromium-driver; scripts/setup.sh does"
    binary = require_program("chromium", install)
    driver = require_program("chromedriver", install)
    port = free_port()
    command = [driver, f"--port={port}"]
    with (
        _running(RunningServer, command, port, tmp_path / "chromedriver.log", tmp_path),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        options = {"binary": binary, "args": [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}"]}
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        reply = client.post("/session", json={"capabilities": {"alwaysMatch": capabilities}})
        session_id = reply.json()["value"]["sessionId"]
        try:
            yield Browser(client, session_id)
        finally:
            client.delete(f"/session/{session_id}")
