"""Choose and build the template engine an app renders with.

``create_engine`` turns the options of ``Gobstopper.init_templates`` into a
TemplateEngine (Jinja2) or a RustTemplateEngine (minijinja).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from gobstopper.templates.engine import TemplateEngine
from gobstopper.templates.loading import resolve_folder
from gobstopper.templates.rust_engine import RustTemplateEngine


class TemplateBackend(Protocol):
    """What the app needs from a template engine; both engines provide it."""

    @property
    def search_path(self) -> tuple[Path, ...]: ...

    def add_search_path(self, path: str | os.PathLike[str]) -> None: ...

    def add_filter(self, name: str, func: Callable[..., Any]) -> None: ...

    def add_global(self, name: str, func: Any) -> None: ...

    def add_url_global(self, name: str, build: Callable[..., str]) -> None:
        """Register a global returning URLs, escaped for HTML without mangling ``/``."""
        ...

    @property
    def renders_synchronously(self) -> bool: ...

    def render(self, template_name: str, context: dict[str, Any]) -> str: ...

    async def render_template_async(self, template_name: str, **context: Any) -> str: ...

    def stream_template_async(self, template_name: str, **context: Any) -> AsyncIterator[str]: ...


def create_engine(
    template_folder: str | os.PathLike[str] = "templates",
    use_rust: bool | None = None,
    *,
    auto_reload: bool | None = None,
    cache_size: int = 400,
    enable_streaming: bool = True,
    enable_hot_reload: bool | None = None,
) -> TemplateBackend:
    """Build the template engine selected by ``use_rust``.

    ``use_rust=None`` picks minijinja when it is installed and Jinja2 otherwise, ``True``
    requires minijinja and ``False`` requires Jinja2; a missing package raises ImportError
    naming the extra to install. ``enable_hot_reload`` is another name for ``auto_reload``
    (default True); giving both with different values is a ValueError.
    ``enable_streaming=False`` makes streamed renders send the page in one piece.
    A missing ``template_folder`` raises FileNotFoundError.
    """
    if auto_reload is not None and enable_hot_reload is not None:
        if auto_reload != enable_hot_reload:
            raise ValueError("auto_reload and enable_hot_reload are aliases; give only one")
    reloading = next((flag for flag in (auto_reload, enable_hot_reload) if flag is not None), True)
    folder = resolve_folder(template_folder)
    options: dict[str, Any] = {
        "auto_reload": reloading,
        "cache_size": cache_size,
        "enable_streaming": enable_streaming,
    }
    if use_rust is False:
        return TemplateEngine(folder, **options)
    try:
        return RustTemplateEngine(folder, **options)
    except ImportError:
        if use_rust:
            raise
    return TemplateEngine(folder, **options)
