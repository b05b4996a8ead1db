"""minijinja template engine for Gobstopper: the "Rust" backend.

minijinja (the ``rust`` extra) is a Rust implementation of the Jinja2 language. It is
imported when an engine is built, never at ``import gobstopper``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gobstopper.templates.errors import TemplateError, TemplateNotFound, TemplateSyntaxError
from gobstopper.templates.loading import (
    autoescape_enabled,
    is_unchanged,
    read_template,
    resolve_folder,
)

if TYPE_CHECKING:
    import minijinja

MINIJINJA_MISSING = 'minijinja is not installed; install it with: pip install "gobstopper[rust]"'


def _escape_mode(template_name: str) -> str | None:
    """minijinja autoescape callback: HTML escaping by extension, else none."""
    return "html" if autoescape_enabled(template_name) else None


def _reject_coroutine_function(name: str, func: Any) -> None:
    """Refuse async callables: minijinja cannot await them."""
    if inspect.iscoroutinefunction(func):
        raise TypeError(
            f"{name!r} is an async function; minijinja cannot await it. "
            "Register a sync function, or use the Jinja2 engine (use_rust=False)."
        )


class RustTemplateEngine:
    """Template engine on minijinja, with the surface of TemplateEngine.

    Lookup order, autoescaping, ``auto_reload`` and ``cache_size`` behave as on the Jinja2
    engine. Filters and globals must be sync callables. minijinja renders a page in one
    piece, so :meth:`stream_template_async` yields it once; ``enable_streaming`` is
    accepted for a uniform configuration and changes nothing here.
    """

    def __init__(
        self,
        template_folder: str | os.PathLike[str] = "templates",
        auto_reload: bool = True,
        cache_size: int = 400,
        *,
        enable_streaming: bool = True,
    ) -> None:
        folder = resolve_folder(template_folder)
        try:
            import minijinja
        except ImportError as exc:
            raise ImportError(MINIJINJA_MISSING) from exc
        self._search_path = [folder]
        # Templates minijinja has loaded, oldest first: the file and mtime each was read
        # with, for auto_reload, and the order in which the cache bound evicts them.
        self._loaded: dict[str, tuple[Path, int]] = {}
        # The last lookup that failed: minijinja's own error does not carry the name.
        self._last_missing: TemplateNotFound | None = None
        self._minijinja_error: type[minijinja.TemplateError] = minijinja.TemplateError
        self._auto_reload = auto_reload
        self._cache_size = cache_size
        self.enable_streaming = enable_streaming
        self._env = minijinja.Environment(loader=self._load, auto_escape_callback=_escape_mode)

    @property
    def search_path(self) -> tuple[Path, ...]:
        """The folders searched for templates, in lookup order."""
        return tuple(self._search_path)

    def add_search_path(self, path: str | os.PathLike[str]) -> None:
        """Add a folder searched after the existing ones (used by blueprints)."""
        folder = resolve_folder(path)
        if folder not in self._search_path:
            self._search_path.append(folder)

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Register a sync filter, used in templates as ``{{ value|name }}``."""
        _reject_coroutine_function(name, func)
        self._env.add_filter(name, func)

    def add_global(self, name: str, func: Any) -> None:
        """Register a global value or sync function visible in every template."""
        _reject_coroutine_function(name, func)
        self._env.add_global(name, func)

    def add_url_global(self, name: str, build: Callable[..., str]) -> None:
        """Register ``build`` (``url_for``) as global ``name``; its URLs keep their ``/``.

        minijinja's HTML escaping writes ``/`` as ``&#x2f;``. A URL built by
        ``url_for`` is percent-encoded, so escaping ``& < > " '`` is enough: the
        result is marked safe in HTML templates and left raw in text templates.
        """
        import html  # only minijinja engines need it, once per engine

        import minijinja

        @minijinja.pass_state
        def url_global(state: Any, *args: Any, **params: Any) -> Any:
            url = build(*args, **params)
            return minijinja.safe(html.escape(url)) if state.auto_escape == "html" else url

        self.add_global(name, url_global)

    #: Filters and globals are always sync here, so :meth:`render` always works.
    renders_synchronously = True

    async def render_template_async(self, template_name: str, **context: Any) -> str:
        """Render a template to a string."""
        return self.render(template_name, context)

    def render(self, template_name: str, context: dict[str, Any]) -> str:
        """Render a whole page without awaiting: the app's fast path.

        PERF: rendered inline on the loop: minijinja holds the GIL while it renders (another
        Python thread measured ~15% of its normal speed meanwhile), so a worker thread would
        add a hand-off without letting the loop run.
        """
        if self._auto_reload:
            self._drop_stale()
        try:
            return self._env.render_template(template_name, **context)
        except self._minijinja_error as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc
        finally:
            self._evict()

    async def stream_template_async(self, template_name: str, **context: Any) -> AsyncIterator[str]:
        """Render the whole template, then yield it as a single chunk."""
        yield await self.render_template_async(template_name, **context)

    def _load(self, name: str) -> str | None:
        """minijinja loader callback: a template's source, or None if absent."""
        try:
            source, path, mtime_ns = read_template(name, self._search_path)
        except TemplateNotFound as exc:
            # NOTE: None, not a raise, keeps `{% include ... ignore missing %}` working.
            self._last_missing = exc
            return None
        self._loaded[name] = (path, mtime_ns)
        return source

    def _translate(self, exc: minijinja.TemplateError) -> TemplateError | None:
        """Map a minijinja error to the engine-neutral class, if it has one."""
        if exc.kind == "TemplateNotFound" and self._last_missing is not None:
            missing = self._last_missing
            return TemplateNotFound(missing.name, missing.search_path, missing.reason)
        if exc.kind == "SyntaxError":
            loaded = self._loaded.get(exc.name) if exc.name else None
            filename = str(loaded[0]) if loaded else exc.name
            return TemplateSyntaxError(exc.detail or exc.message, exc.name, filename, exc.line)
        return None

    def _drop_stale(self) -> None:
        """Forget all compiled templates once a loaded file changed or went.

        PERF: one stat per loaded template per render. minijinja does not expose which
        templates a page extends or includes, so all of them are checked.
        """
        if not all(is_unchanged(path, mtime) for path, mtime in list(self._loaded.values())):
            self._env.clear_templates()
            self._loaded.clear()

    def _evict(self) -> None:
        """Drop the oldest compiled templates beyond ``cache_size``.

        A negative ``cache_size`` sets no bound.
        """
        while 0 <= self._cache_size < len(self._loaded):
            name = next(iter(self._loaded))
            del self._loaded[name]
            self._env.remove_template(name)
