"""Gobstopper: a Flask-like web framework for Granian's RSGI interface.

Only re-exports live here; optional dependencies (jinja2, minijinja, duckdb,
redis) are imported by the modules that need them, when they are used.
``Gobstopper`` and ``Blueprint`` (the ``core`` package) and rarely used names
(``jsonify``, ``ConnectionClosed``) load on first access, so importing a lower
package (``gobstopper.http``, ``gobstopper.sessions``, ...) never loads the
application core above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gobstopper._lazy import lazy_exports
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
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.blueprint import Blueprint
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


# Lazy: the core is a higher layer than the packages below it (see tests/test_layers.py).
# PERF: lazy — gobstopper.http.helpers and the websocket package import asyncio (~35 ms).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Gobstopper": "gobstopper.core.app",
        "Blueprint": "gobstopper.core.blueprint",
        "jsonify": "gobstopper.http.helpers",
        "ConnectionClosed": "gobstopper.websocket.message",
    },
    globals(),
)
