"""``import gobstopper`` stays light: heavy modules load only when used.

These are behaviour tests (which modules a fresh interpreter has loaded), not
wall-clock assertions; measure the time with
``python -X importtime -c "import gobstopper"``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest

import gobstopper

HEAVY = (
    "asyncio",
    "jinja2",
    "minijinja",
    "duckdb",
    "redis",
    "python_multipart",
    "email.utils",
    "mimetypes",
)
PUBLIC = (
    "Gobstopper",
    "Blueprint",
    "Request",
    "Response",
    "JSONResponse",
    "FileResponse",
    "StreamResponse",
    "redirect",
    "abort",
    "HTTPException",
    "jsonify",
    "ConnectionClosed",
)


def assert_is_the_definition(value: object, name: str) -> None:
    """``value`` is the class or function defined as ``name`` in a gobstopper module."""
    home = getattr(value, "__module__", "")
    assert home.startswith("gobstopper."), (name, home)
    assert getattr(value, "__name__", None) == name
    assert getattr(importlib.import_module(home), name) is value


def loaded_after(code: str, modules: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}; import sys; print(sorted(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return ast.literal_eval(result.stdout.strip())


def test_import_gobstopper_loads_no_heavy_module():
    code = (
        "import gobstopper, sys; print(sorted(m for m in ('asyncio','jinja2','minijinja',"
        "'duckdb','redis','python_multipart','email.utils','mimetypes') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_creating_an_app_and_registering_routes_loads_no_heavy_module():
    code = (
        "from gobstopper import Blueprint, Gobstopper\n"
        "app = Gobstopper(__name__)\n"
        "bp = Blueprint('api', '/api')\n"
        "bp.get('/items/<int:item_id>')(lambda request, item_id: {'id': item_id})\n"
        "app.register_blueprint(bp)\n"
        "app.get('/')(lambda request: 'hi')"
    )
    assert loaded_after(code) == []


def test_websocket_message_loads_without_the_connection_machinery():
    modules = ("asyncio", "gobstopper.websocket.connection", "gobstopper.websocket.manager")
    assert loaded_after("import gobstopper.websocket.message", modules) == []


def test_lazy_exports_work():
    from gobstopper import ConnectionClosed, jsonify
    from gobstopper.http import helpers
    from gobstopper.websocket import message

    assert jsonify is helpers.jsonify
    assert ConnectionClosed is message.ConnectionClosed
    response = jsonify({"ok": True})
    assert isinstance(response, gobstopper.JSONResponse)
    assert response.body == b'{"ok":true}'
    with pytest.raises(ConnectionError) as caught:
        raise ConnectionClosed(1000, "bye")
    assert caught.value.code == 1000
    assert caught.value.reason == "bye"


@pytest.mark.parametrize("name", PUBLIC)
def test_public_names_are_exported_and_listed(name):
    assert name in gobstopper.__all__
    assert name in dir(gobstopper)
    assert_is_the_definition(getattr(gobstopper, name), name)


def test_unknown_attributes_still_raise_attribute_error():
    with pytest.raises(AttributeError):
        gobstopper.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        from gobstopper import no_such_name  # noqa: F401


@pytest.mark.parametrize(
    "package",
    [
        "gobstopper.websocket",
        "gobstopper.templates",
        "gobstopper.middleware",
        "gobstopper.sessions",
    ],
)
def test_subpackage_exports_load_on_first_access(package):
    module = __import__(package, fromlist=["__all__"])
    # __all__ is written out for type checkers; it must name every lazy export.
    assert set(getattr(module, "_MODULES", {})) <= set(module.__all__)
    for name in module.__all__:
        assert name in dir(module)
        assert_is_the_definition(getattr(module, name), name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
