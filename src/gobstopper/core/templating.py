"""Template rendering for the app: engine choice, context processors, helpers.

The engine (Jinja2 or minijinja, see ``gobstopper.templates.backend``) is
imported only when ``init_templates`` is called, keeping ``import gobstopper``
light. A relative template folder is looked for under the application root
(the directory of the module named by ``Gobstopper(__name__)``), then under
the working directory. Blueprint template folders are searched after the
app's own folder, in registration order.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from gobstopper.awaitables import resolved
from gobstopper.http.response import Response, StreamResponse, plain_response_of

if TYPE_CHECKING:
    from pathlib import Path

    from gobstopper.templates.backend import TemplateBackend

F = TypeVar("F", bound=Callable[..., Any])
_HTML = "text/html; charset=utf-8"
# NOTE: a fixed table, not `mimetypes`, whose answers depend on the host's mime.types.
_CONTENT_TYPES = {
    suffix: f"{mime}; charset=utf-8"
    for suffix, mime in {
        "txt": "text/plain",
        "md": "text/markdown",
        "csv": "text/csv",
        "css": "text/css",
        "js": "text/javascript",
        "json": "application/json",
        "xml": "application/xml",
        "rss": "application/rss+xml",
        "atom": "application/atom+xml",
        "xhtml": "application/xhtml+xml",
        "svg": "image/svg+xml",
        "ics": "text/calendar",
    }.items()
}


def template_content_type(template_name: str) -> str:
    """Return the Content-Type ``render_template`` sends for a template.

    Judged by the extension (``.txt`` text/plain, ``.xml`` application/xml,
    ``.json`` application/json, ...); ``.html`` and any extension not known
    (``.jinja``, ``.j2``, none) are served as HTML.
    """
    base = template_name.rpartition("/")[2]
    if "." not in base:
        return _HTML
    return _CONTENT_TYPES.get(base.rpartition(".")[2].lower(), _HTML)


def _module_root(module_name: str) -> Path | None:
    """The directory of an imported module's file, if it has one."""
    # PERF: lazy — pathlib costs ~1.5 ms at import; only init_templates needs it.
    from pathlib import Path

    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve().parent if filename else None


class TemplatingMixin:
    """``init_templates``, ``render_template`` and the template registries."""

    name: str
    template_engine: TemplateBackend | None
    _blueprints: list[tuple[Any, str | None]]
    url_for: Callable[..., str]

    def _init_templating(self) -> None:
        self.template_engine = None
        self._context_processors: list[Callable[[], Any]] = []
        self._template_filters: dict[str, Callable[..., Any]] = {}
        self._template_globals: dict[str, Any] = {}
        self._template_blueprints_seen: set[Any] = set()
        self._template_routes_seen: object = None

    # -- setup ------------------------------------------------------------------
    def init_templates(
        self,
        template_folder: str | os.PathLike[str] = "templates",
        use_rust: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the template engine (minijinja when available unless ``use_rust=False``).

        A relative ``template_folder`` is looked for under the application root
        (the directory of the module named by ``Gobstopper(__name__)``), then under
        the working directory. ``kwargs`` are the engine options (``auto_reload``,
        ``cache_size``, ``enable_streaming``, ``enable_hot_reload``).
        Raises ``ImportError`` when the requested engine is not installed and
        ``FileNotFoundError`` when ``template_folder`` does not exist.
        """
        from gobstopper.templates.backend import create_engine

        folder = self._resolve_template_folder(template_folder)
        engine = create_engine(folder, use_rust, **kwargs)
        engine.add_url_global("url_for", self.url_for)
        for key, func in self._template_filters.items():
            engine.add_filter(key, func)
        for key, value in self._template_globals.items():
            engine.add_global(key, value)
        self._template_blueprints_seen = set()
        self._add_blueprint_template_folders(engine)
        self.template_engine = engine

    def _resolve_template_folder(self, folder: str | os.PathLike[str]) -> Path:
        """An absolute template folder: app root first, then the working directory."""
        from pathlib import Path

        path = Path(folder).expanduser()
        if path.is_absolute():
            candidates = [path]
        else:
            root = _module_root(self.name)
            candidates = [root / path] if root is not None else []
            candidates.append(Path.cwd() / path)
        for candidate in candidates:
            if candidate.is_dir():
                return candidate.resolve()
        tried = ", ".join(str(candidate) for candidate in candidates)
        raise FileNotFoundError(
            errno.ENOENT, f"Template folder does not exist (looked in {tried})", str(folder)
        )

    def _add_blueprint_template_folders(self, engine: TemplateBackend) -> None:
        """Append the template folders of blueprints not seen yet, in order.

        Blueprints already added cost one set lookup; only a newly registered
        one pays for a ``stat``.
        """
        seen = self._template_blueprints_seen
        visited: set[int] = set()
        stack = [blueprint for blueprint, _ in reversed(self._blueprints)]
        while stack:
            blueprint = stack.pop()
            if id(blueprint) in visited:
                continue
            visited.add(id(blueprint))
            if blueprint not in seen:
                folder = getattr(blueprint, "template_folder", None)
                if folder:
                    engine.add_search_path(self._blueprint_folder(blueprint, folder))
                seen.add(blueprint)
            stack.extend(child for child, _ in reversed(blueprint._blueprints))

    def _blueprint_folder(self, blueprint: Any, folder: str | os.PathLike[str]) -> Path:
        try:
            return self._resolve_template_folder(folder)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                errno.ENOENT,
                f"Template folder of blueprint {blueprint.name!r} does not exist ({exc.strerror})",
                str(folder),
            ) from None

    # -- registries -------------------------------------------------------------
    def context_processor(self, func: F) -> F:
        """Merge ``func()`` (sync or async, returns a dict) into every template context."""
        self._context_processors.append(func)
        return func

    def add_template_filter(self, func: Callable[..., Any], name: str | None = None) -> None:
        """Register ``func`` as filter ``name`` (default: its ``__name__``)."""
        key = name or func.__name__
        if self.template_engine is not None:
            self.template_engine.add_filter(key, func)  # refuses what the engine cannot run
        self._template_filters[key] = func

    def add_template_global(self, func: Any, name: str | None = None) -> None:
        """Register ``func`` as global ``name`` (default: its ``__name__``)."""
        key = name or func.__name__
        if self.template_engine is not None:
            self.template_engine.add_global(key, func)
        self._template_globals[key] = func

    @overload
    def template_filter(self, name: F) -> F: ...
    @overload
    def template_filter(self, name: str | None = None) -> Callable[[F], F]: ...

    def template_filter(self, name: str | F | None = None) -> F | Callable[[F], F]:
        """Register a template filter on whichever engine is (or will be) in use.

        Use as ``@app.template_filter()``, ``@app.template_filter("name")`` or
        bare ``@app.template_filter``. minijinja refuses async filters with
        ``TypeError``.
        """
        return _registering(self.add_template_filter, name)

    @overload
    def template_global(self, name: F) -> F: ...
    @overload
    def template_global(self, name: str | None = None) -> Callable[[F], F]: ...

    def template_global(self, name: str | F | None = None) -> F | Callable[[F], F]:
        """Register a template global on whichever engine is (or will be) in use.

        Use as ``@app.template_global()``, ``@app.template_global("name")`` or
        bare ``@app.template_global``. minijinja refuses async functions with
        ``TypeError``.
        """
        return _registering(self.add_template_global, name)

    # -- rendering --------------------------------------------------------------
    async def template_context(self, context: dict[str, Any]) -> dict[str, Any]:
        """Context processors in registration order (later win), then ``context``."""
        if not self._context_processors:
            return context
        merged: dict[str, Any] = {}
        for processor in self._context_processors:
            extra = await resolved(processor())
            if extra:
                merged.update(extra)
        merged.update(context)
        return merged

    async def render_template(
        self, template_name: str, stream: bool = False, **context: Any
    ) -> Response | StreamResponse:
        """Render ``template_name`` into a response (HTML unless the extension says otherwise).

        Context processors run first, then ``context`` overrides them; ``url_for``
        is always available. ``stream=True`` returns a ``StreamResponse``: Jinja2
        sends chunks as they render, minijinja renders the whole page and sends it
        as one chunk. A missing template (``TemplateNotFound``) or a syntax error
        (``TemplateSyntaxError``) is raised here, before any byte is sent, in both
        modes.
        """
        engine = self.template_engine
        if engine is None:
            raise RuntimeError("call app.init_templates(...) before render_template()")
        if self._blueprints:
            # PERF: every registration (nested ones too) drops the app's compiled route
            # table, so while the same table is in use no blueprint can have been added.
            table = getattr(self, "_table", None)
            if table is None or table is not self._template_routes_seen:
                self._add_blueprint_template_folders(engine)
                self._template_routes_seen = table
        if self._context_processors:
            context = await self.template_context(context)
        content_type = template_content_type(template_name)
        if stream:
            chunks = await _started(engine.stream_template_async(template_name, **context))
            return StreamResponse(chunks, content_type=content_type)
        if engine.renders_synchronously:
            body = engine.render(template_name, context)
        else:
            body = await engine.render_template_async(template_name, **context)
        return plain_response_of(body, content_type)


def _registering(
    register: Callable[[F, str | None], None], name: str | F | None
) -> F | Callable[[F], F]:
    """A decorator usable bare (``@deco``) or called (``@deco()``, ``@deco("name")``)."""
    if callable(name):
        register(name, None)
        return name

    def decorator(func: F) -> F:
        register(func, name)
        return func

    return decorator


async def _started(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """Render up to the first chunk now, so early errors raise before headers go out.

    Returns an iterator over that chunk and the rest; closing it closes ``chunks``.
    """
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        return _chain(None, chunks)
    except BaseException:
        await _aclose(chunks)
        raise
    return _chain(first, chunks)


async def _chain(first: str | None, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _aclose(rest)


async def _aclose(chunks: AsyncIterator[str]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
