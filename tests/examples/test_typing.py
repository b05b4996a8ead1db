"""``mypy --strict`` passes on the examples, and catches a user's mistakes.

The examples are annotated as a user writing from the reference would annotate
them, so a clean run shows the documented API can be typed strictly. The
deliberately wrong snippets show the other half: the public types are precise
enough to catch a mistake (a ``str`` where an ``int`` goes, a handler called
with the wrong argument), so a clean run means something. Each snippet marks
the lines mypy must flag with ``# E: <error code>``; the test wants exactly
those errors, no more and no fewer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

EXAMPLES = ROOT / "examples"
MYPY_TIMEOUT = 300  # seconds; a cold run takes a few seconds
ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
EXPECTED = re.compile(r"#\s*E:\s*(?P<code>[a-z-]+)\s*$")

pytestmark = pytest.mark.timeout(MYPY_TIMEOUT + 30)

# What a user gets wrong, against the core API (Gobstopper, Request, Response, WebSocket).
CORE_MISTAKES = """\
from __future__ import annotations

from gobstopper import Gobstopper, Request, Response
from gobstopper.websocket import WebSocket

app = Gobstopper(__name__)


@app.get("/numbers/<int:n>")
async def number(request: Request, n: int) -> dict[str, int]:
    return {"n": n}


@app.get("/hello")
async def hello(request: Request) -> Response:
    return Response(body=1)  # E: arg-type


@app.get("/untyped")
async def untyped(request):  # E: no-untyped-def
    return {}


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(b"bytes")  # E: arg-type


async def queue(request: Request) -> None:
    await number(request, "3")  # E: arg-type
    await app.add_background_task("count", priority=5)  # E: arg-type
"""

# The reference imports middleware and session stores from the packages; mistakes there too.
MIDDLEWARE_MISTAKES = """\
from gobstopper.middleware import CORSMiddleware

cors = CORSMiddleware(max_age="600")  # E: arg-type
"""
SESSION_MISTAKES = """\
from gobstopper.sessions import MemorySessionStorage

store = MemorySessionStorage(ttl="1h")  # E: arg-type
"""


def run_mypy(*paths: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mypy --strict`` on ``paths`` from the repository root, without a cache.

    The project's pyproject settings apply; the paths given replace its ``files``.
    """
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--strict",
        "--no-incremental",
        f"--cache-dir={os.devnull}",
        *map(str, paths),
    ]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=MYPY_TIMEOUT, check=False
    )


def reported(result: subprocess.CompletedProcess[str]) -> set[tuple[str, int, str]]:
    """Every error in mypy's output as ``(file name, line, error code)``."""
    errors = set()
    for line in result.stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            errors.add((Path(match["file"]).name, int(match["line"]), match["code"]))
    return errors


def expected(path: Path) -> set[tuple[str, int, str]]:
    """The errors a snippet marks with ``# E: <code>``, as ``(file name, line, code)``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        (path.name, number, match["code"])
        for number, line in enumerate(lines, start=1)
        if (match := EXPECTED.search(line))
    }


def test_examples_pass_mypy_strict() -> None:
    sources = sorted(EXAMPLES.rglob("*.py"))
    result = run_mypy(EXAMPLES)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"no issues found in {len(sources)} source files" in result.stdout, output


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(CORE_MISTAKES, id="core"),
        pytest.param(MIDDLEWARE_MISTAKES, id="middleware"),
        pytest.param(SESSION_MISTAKES, id="sessions"),
    ],
)
def test_mypy_strict_catches_mistakes(tmp_path: Path, source: str) -> None:
    snippet = tmp_path / "user_app.py"
    snippet.write_text(source, encoding="utf-8")
    result = run_mypy(snippet)
    output = result.stdout + result.stderr
    assert expected(snippet), "the snippet marks no error"
    assert reported(result) == expected(snippet), output
    assert result.returncode == 1, output
