"""openapi_command("module:app"): the document on stdout, for CI diffs and generators."""

from __future__ import annotations

import json

import pytest

from gobstopper.cli import CLIError
from gobstopper.openapi import openapi_command, openapi_document
from tests.servers import ROOT


@pytest.fixture(autouse=True)
def apps_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "e2e" / "apps"))


def test_prints_the_served_document(capsys: pytest.CaptureFixture[str]):
    assert openapi_command("openapi_app:app") == 0
    out = capsys.readouterr().out
    assert out.endswith("}\n")
    assert out.startswith('{\n  "openapi": "3.1.0"')
    import openapi_app  # type: ignore[import-not-found]

    assert json.loads(out) == openapi_document(openapi_app.app)


def test_a_target_that_is_not_a_gobstopper_app_is_a_cli_error():
    with pytest.raises(CLIError, match="not an RSGI app"):
        openapi_command("openapi_app:PETS")
    with pytest.raises(CLIError, match="cannot import"):
        openapi_command("no_such_module:app")


def test_an_rsgi_app_that_is_not_gobstopper_is_a_cli_error(monkeypatch: pytest.MonkeyPatch):
    import types

    class RawApp:
        async def __rsgi__(self, scope: object, protocol: object) -> None:
            """Answer nothing: only its type matters here."""

    module = types.ModuleType("raw_rsgi_app")
    module.app = RawApp()  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "raw_rsgi_app", module)
    with pytest.raises(CLIError, match="not a Gobstopper app"):
        openapi_command("raw_rsgi_app:app")
