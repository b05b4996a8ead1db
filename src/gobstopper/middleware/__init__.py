"""Built-in middleware, imported on first use.

``from gobstopper.middleware import LimitsMiddleware`` (or CORSMiddleware,
SecurityMiddleware, StaticFileMiddleware) loads only the module it names.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "LimitsMiddleware": "gobstopper.middleware.limits",
    "CORSMiddleware": "gobstopper.middleware.cors",
    "SecurityMiddleware": "gobstopper.middleware.security",
    "StaticFileMiddleware": "gobstopper.middleware.static",
    "RustStaticMiddleware": "gobstopper.middleware.static",
    "HybridStaticMiddleware": "gobstopper.middleware.static",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
