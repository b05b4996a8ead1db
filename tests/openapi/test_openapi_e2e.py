"""The document against the real server: Schemathesis over Granian on 127.0.0.1.

Schemathesis's own command line reads ``/openapi.json`` from a running
``openapi_app`` and sends requests generated from it: valid and invalid
ones, boundary values, unsupported methods. Every response must be one the
document promises: no 5xx, a documented status, content type and headers,
a body matching its schema, invalid input refused, valid input accepted.
The run is bounded (``--max-examples``, a fixed seed, one worker) and takes
seconds; its report is printed when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, RunningServer, granian_server

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
RUN_DEADLINE = 240  # seconds; a run takes ~10 s on 2 cores


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with granian_server("openapi_app:app", tmp_path_factory.mktemp("openapi")) as running:
        yield running


def schemathesis_run(
    server: RunningServer, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` against ``server``'s document, in ``tmp_path``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "SCHEMATHESIS_HOOKS": "tests.openapi.schemathesis_hooks",
    }
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server.url}/openapi.json",
        "--no-color",
        "--workers",
        "1",
        "--seed",
        "20240601",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        *args,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=RUN_DEADLINE,
        check=False,
    )


def test_every_response_is_one_the_document_promises(server: RunningServer, tmp_path: Path):
    result = schemathesis_run(
        server,
        tmp_path,
        "--phases",
        "examples,coverage,fuzzing",
        "--mode",
        "all",
        "--max-examples",
        "30",
        "--checks",
        "all",
        "--exclude-checks",
        "negative_data_rejection",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 selected / 8 total" in result.stdout
    assert "Traceback" not in server.log()
