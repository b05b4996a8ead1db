"""Template rendering for the app: engine choice, context processors, helpers.

The engine (Jinja2 or minijinja, see ``gobstopper.templates.backend``) is
imported only when ``init_templates`` is called, keeping ``import gobstopper``
light. Blueprint template folders are searched after the app's own folder.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gobstopper.http.response import Response, StreamResponse

F = TypeVar("F", bound=Callable[..., Any])
_HTML = "text/html; charset=utf-8"


class TemplatingMixin:
    """``init_templates``, ``render_template`` and the template registries."""

    template_engine: Any
    _blueprints: list[tuple[Any, str | None]]

    def _init_templating(self) -> None:
        self.template_engine = None
        self._context_processors: list[Callable[[], Any]] = []
        self._template_filters: dict[str, Callable[..., Any]] = {}
        self._template_globals: dict[str, Any] = {}
        self._template_folders_added: set[Path] = set()

    def init_templates(
        self, template_folder: str = "templates", use_rust: bool | None = None, **kwargs: Any
    ) -> None:
        """Create the template engine (minijinja when available unless ``use_rust=False``).

        Raises ``ImportError`` when the requested engine is not installed and
        ``FileNotFoundError`` when ``template_folder`` does not exist.
        """
        from gobstopper.templates.backend import create_engine

        engine = create_engine(template_folder, use_rust, **kwargs)
        engine.add_global("url_for", self.url_for)  # type: ignore[attr-defined]
        for name, func in self._template_filters.items():
            engine.add_filter(name, func)
        for name, value in self._template_globals.items():
            engine.add_global(name, value)
        self.template_engine = engine
        self._template_folders_added = set()
        self._add_blueprint_template_folders()

    def _add_blueprint_template_folders(self) -> None:
        """Append every blueprint's template folder to the search path, once."""
        if self.template_engine is None:
            return
        pending = list(self._blueprints)
        while pending:
            blueprint, _ = pending.pop(0)
            folder = blueprint.resolved_folder(blueprint.template_folder)
            if folder is not None and folder not in self._template_folders_added:
                self.template_engine.add_search_path(folder)
                self._template_folders_added.add(folder)
            pending.extend(blueprint._blueprints)

    def context_processor(self, func: F) -> F:
        """Merge ``func()`` (sync or async, returns a dict) into every template context."""
        self._context_processors.append(func)
        return func

    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register a template filter on whichever engine is (or will be) in use."""
        def decorator(func: F) -> F:
            key = name or func.__name__
            self._template_filters[key] = func
            if self.template_engine is not None:
                self.template_engine.add_filter(key, func)
            return func
        return decorator

    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register a template global on whichever engine is (or will be) in use."""
        def decorator(func: F) -> F:
            key = name or func.__name__
            self._template_globals[key] = func
            if self.template_engine is not None:
                self.template_engine.add_global(key, func)
            return func
        return decorator

    async def template_context(self, context: dict[str, Any]) -> dict[str, Any]:
        """Context processors in registration order (later win), then ``context``."""
        merged: dict[str, Any] = {}
        for processor in self._context_processors:
            extra = processor()
            if inspect.isawaitable(extra):
                extra = await extra
            if extra:
                merged.update(extra)
        merged.update(context)
        return merged

    async def render_template(
        self, template_name: str, stream: bool = False, **context: Any
    ) -> Response | StreamResponse:
        """Render ``template_name`` into an HTML response.

        ``stream=True`` returns a ``StreamResponse`` that sends chunks as they
        render (Jinja2 renders incrementally; minijinja renders the whole page
        and sends it as one chunk).
        """
        engine = self.template_engine
        if engine is None:
            raise RuntimeError("call app.init_templates(...) before render_template()")
        self._add_blueprint_template_folders()
        merged = await self.template_context(context)
        if stream:
            return StreamResponse(
                engine.stream_template_async(template_name, **merged), content_type=_HTML
            )
        return Response(await engine.render_template_async(template_name, **merged))
