"""Built-in middleware, imported on first use.

``from gobstopper.middleware import CORSMiddleware`` (or SecurityMiddleware,
LimitsMiddleware, StaticFileMiddleware, RustStaticMiddleware,
HybridStaticMiddleware) loads only the module it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gobstopper._lazy import lazy_exports

if TYPE_CHECKING:
    from gobstopper.middleware.cors import CORSMiddleware
    from gobstopper.middleware.limits import LimitsMiddleware
    from gobstopper.middleware.security import SecurityMiddleware
    from gobstopper.middleware.static import (
        HybridStaticMiddleware,
        RustStaticMiddleware,
        StaticFileMiddleware,
    )

_MODULES = {
    "CORSMiddleware": "gobstopper.middleware.cors",
    "SecurityMiddleware": "gobstopper.middleware.security",
    "LimitsMiddleware": "gobstopper.middleware.limits",
    "StaticFileMiddleware": "gobstopper.middleware.static",
    "RustStaticMiddleware": "gobstopper.middleware.static",
    "HybridStaticMiddleware": "gobstopper.middleware.static",
}

__all__ = [
    "CORSMiddleware",
    "HybridStaticMiddleware",
    "LimitsMiddleware",
    "RustStaticMiddleware",
    "SecurityMiddleware",
    "StaticFileMiddleware",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
