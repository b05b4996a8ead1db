"""Gobstopper: a Flask-like web framework for Granian's RSGI interface.

Only re-exports live here; optional dependencies (jinja2, minijinja, duckdb,
redis) are imported by the modules that need them, when they are used.
"""

from gobstopper.core.app import Gobstopper
from gobstopper.core.blueprint import Blueprint
from gobstopper.http.errors import HTTPException, abort
from gobstopper.http.helpers import jsonify
from gobstopper.http.request import Request
from gobstopper.http.response import (
    FileResponse,
    JSONResponse,
    Response,
    StreamResponse,
    redirect,
)
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
