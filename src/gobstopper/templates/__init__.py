"""Template rendering with Jinja2 or minijinja (the "Rust" engine).

Neither engine's library is imported until an engine is built, and the names
below load their module on first access, so importing one submodule (such as
``gobstopper.templates.error_pages``) does not import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gobstopper.templates.backend import TemplateBackend, create_engine
    from gobstopper.templates.engine import TemplateEngine
    from gobstopper.templates.errors import TemplateError, TemplateNotFound, TemplateSyntaxError
    from gobstopper.templates.rust_engine import RustTemplateEngine

_MODULES = {
    "RustTemplateEngine": "gobstopper.templates.rust_engine",
    "TemplateBackend": "gobstopper.templates.backend",
    "TemplateEngine": "gobstopper.templates.engine",
    "TemplateError": "gobstopper.templates.errors",
    "TemplateNotFound": "gobstopper.templates.errors",
    "TemplateSyntaxError": "gobstopper.templates.errors",
    "create_engine": "gobstopper.templates.backend",
}

__all__ = [
    "RustTemplateEngine",
    "TemplateBackend",
    "TemplateEngine",
    "TemplateError",
    "TemplateNotFound",
    "TemplateSyntaxError",
    "create_engine",
]


def __getattr__(name: str) -> Any:
    # PERF: lazy — the engine modules and pathlib cost ~3 ms at import; the error
    # pages (``error_pages``) must not pay for them.
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
