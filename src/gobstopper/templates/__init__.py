"""Template rendering with Jinja2 or minijinja (the "Rust" engine).

Neither engine's library is imported until an engine is built.
"""

from gobstopper.templates.backend import TemplateBackend, create_engine
from gobstopper.templates.engine import TemplateEngine
from gobstopper.templates.errors import TemplateError, TemplateNotFound, TemplateSyntaxError
from gobstopper.templates.rust_engine import RustTemplateEngine

__all__ = [
    "RustTemplateEngine",
    "TemplateBackend",
    "TemplateEngine",
    "TemplateError",
    "TemplateNotFound",
    "TemplateSyntaxError",
    "create_engine",
]
