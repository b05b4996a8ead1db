"""Gobstopper: a Flask-like web framework for Granian's RSGI interface.

Only re-exports live here; optional dependencies (jinja2, minijinja, duckdb,
redis) are imported by the modules that need them, when they are used.
Rarely used names (``jsonify``, ``ConnectionClosed``) load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gobstopper.core.app import Gobstopper
from gobstopper.core.blueprint import Blueprint
from gobstopper.http.errors import HTTPException, abort
from gobstopper.http.request import Request
from gobstopper.http.response import (
    FileResponse,
    JSONResponse,
    Response,
    StreamResponse,
    redirect,
)

if TYPE_CHECKING:
    from gobstopper.http.helpers import jsonify
    from gobstopper.websocket.message import ConnectionClosed

__version__ = "0.1.0"

__all__ = [
    "Blueprint",
    "ConnectionClosed",
    "FileResponse",
    "Gobstopper",
    "HTTPException",
    "JSONResponse",
    "Request",
    "Response",
    "StreamResponse",
    "__version__",
    "abort",
    "jsonify",
    "redirect",
]


def __getattr__(name: str) -> Any:
    # PERF: lazy — gobstopper.http.helpers imports asyncio (~35 ms).
    if name == "jsonify":
        from gobstopper.http import helpers as module
    elif name == "ConnectionClosed":
        from gobstopper.websocket import message as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
