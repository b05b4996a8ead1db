"""Template rendering with Jinja2 or minijinja (the "Rust" engine).

Neither engine's library is imported until an engine is built, and the names
below load their module on first access, so importing one submodule (such as
``gobstopper.templates.error_pages``) does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gobstopper._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
