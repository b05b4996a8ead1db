"""Built-in middleware, imported on first use.

``from gobstopper.middleware import CORSMiddleware`` (or SecurityMiddleware,
LimitsMiddleware, StaticFileMiddleware, RustStaticMiddleware,
HybridStaticMiddleware) loads only the module it names.
"""

from __future__ import annotations

from gobstopper._lazy import lazy_exports

_MODULES = {
    "CORSMiddleware": "gobstopper.middleware.cors",
    "SecurityMiddleware": "gobstopper.middleware.security",
    "LimitsMiddleware": "gobstopper.middleware.limits",
    "StaticFileMiddleware": "gobstopper.middleware.static",
    "RustStaticMiddleware": "gobstopper.middleware.static",
    "HybridStaticMiddleware": "gobstopper.middleware.static",
}

__all__ = sorted(_MODULES)


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
