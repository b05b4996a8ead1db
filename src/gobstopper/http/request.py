"""The HTTP request: a lazy view over Granian's RSGI scope and protocol.

Nothing is parsed until asked for; every parsed value is cached in a
``__slots__`` field. ``__dict__`` is kept as the last slot so that hooks can
attach request-scoped data (``request.user = ...``) as the reference shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gobstopper.http import body as _body
from gobstopper.http.cookies import parse_cookie_header
from gobstopper.http.errors import (
    BodyValidationError,
    HTTPException,
    UnsupportedMediaType,
)
from gobstopper.http.form import parse_urlencoded
from gobstopper.http.hosts import host_name
from gobstopper.http.json_body import decode_json
from gobstopper.http.proxy import ProxyTrust, split_peer
from gobstopper.http.query import ScopeView, parse_query
from gobstopper.http.validation import BodyTooLarge, form_to_model

if TYPE_CHECKING:
    import logging
    from collections.abc import Awaitable, Callable

    from gobstopper.http.body import BodyLimits
    from gobstopper.http.multipart import FileDict, FileStorage, MultipartReader
    from gobstopper.rsgi_types import RSGIHTTPProtocol, RSGIScope

_DEFAULT_TRUST = ProxyTrust()


class _Unset:
    """The JSON body cache before it is filled (None is a valid JSON body)."""

    __slots__ = ()


_UNSET: Any = _Unset()
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class Request(ScopeView):
    """An HTTP request handed to handlers, hooks and middleware."""

    __slots__ = (
        "__dict__",
        "app",
        "body_limits",
        "endpoint",
        "max_body_bytes",
        "protocol",
        "proxy_trust",
        "scope",
        "session",
        "url_rule",
        "view_args",
    )
    # Declared with class defaults, not slots: the instance ``__dict__`` gets them
    # only when set, so requests that never have them pay nothing.
    # PERF: the parse caches below are among them: a request that never reads its
    # query, cookies or body skips twelve stores (~0.2 us on the benchmark machine).
    #: Why the router matched no route (404, 405 or 400), raised at the end of the
    #: unrouted chain; None for routed requests (Flask's ``routing_exception``).
    routing_exception: HTTPException | None = None
    #: The session's id, set through ``attach_session`` (read it as ``session_id``).
    _session_id: str | None = None

    if TYPE_CHECKING:
        # Hooks attach their own data (``request.user = ...``), as the reference shows;
        # the ``__dict__`` slot lets Python do it, these let type checkers accept it.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    #: Per-route JSON nesting limit (``LimitsMiddleware``); None: the app's default.
    max_json_depth: int | None = None
    _headers: dict[str, str] | None = None
    _args: dict[str, list[str]] | None = None
    _cookies: dict[str, str] | None = None
    _body: bytes | None = None
    _body_size: int | None = None
    _body_error: HTTPException | None = None
    _json: Any = _UNSET
    _form: dict[str, list[str]] | None = None
    _files: FileDict | None = None
    _id: str | None = None
    _peer: str | None = None

    def __init__(
        self,
        scope: RSGIScope,
        protocol: RSGIHTTPProtocol,
        app: Any = None,
        proxy_trust: ProxyTrust = _DEFAULT_TRUST,
    ) -> None:
        self.scope = scope
        self.protocol = protocol
        self.app: Any = app
        self.session: dict[str, Any] | None = None
        self.endpoint: str | None = None
        self.view_args: dict[str, Any] = {}
        self.url_rule: str | None = None
        self.max_body_bytes: int | None = _body.DEFAULT_MAX_BODY_BYTES
        self.body_limits: BodyLimits = _body.DEFAULT_LIMITS
        self.proxy_trust = proxy_trust

    # -- request line ---------------------------------------------------------
    @property
    def method(self) -> str:
        """HTTP method in upper case."""
        method: str = self.scope.method
        return method

    @property
    def args(self) -> dict[str, list[str]]:
        """Query parameters as ``{name: [values]}`` (at most 1,000 are parsed)."""
        if self._args is None:
            self._args = parse_query(self.scope.query_string)
        return self._args

    # -- headers --------------------------------------------------------------
    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from the ``Cookie`` header."""
        if self._cookies is None:
            # PERF: read from the scope, not through ``headers``: sessions read cookies on
            # every request, most of which never build the whole header dict.
            raw = "; ".join(self.scope.headers.get_all("cookie"))
            self._cookies = parse_cookie_header(raw) if raw else {}
        return self._cookies

    @property
    def is_json(self) -> bool:
        """True when Content-Type is ``application/json`` (any parameters)."""
        return self.headers.get("content-type", "").lower().startswith("application/json")

    # -- connection -----------------------------------------------------------
    @property
    def peer_ip(self) -> str:
        """The TCP peer's address (never from headers)."""
        if self._peer is None:
            self._peer = split_peer(self.scope.client)
        return self._peer

    def _trusted_peer(self) -> bool:
        trust = self.proxy_trust
        return trust.enabled and trust.trusts(self.peer_ip)

    @property
    def client_ip(self) -> str:
        """Client address: the peer, or the rightmost untrusted X-Forwarded-For hop.

        Forwarded headers count only when proxy trust is configured
        (``GOBSTOPPER_TRUSTED_PROXIES`` / ``GOBSTOPPER_TRUST_FORWARDED_HEADERS``).
        """
        peer = self.peer_ip
        if not self.proxy_trust.enabled:
            return peer
        return self.proxy_trust.client_ip(peer, self.headers.get("x-forwarded-for"))

    def _forwarded(self, name: str) -> str:
        """The value the nearest trusted proxy put in ``name`` (its rightmost)."""
        if not self._trusted_peer():
            return ""
        return self.headers.get(name, "").rsplit(",", 1)[-1].strip()

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` (X-Forwarded-Proto from a trusted proxy wins)."""
        forwarded = self._forwarded("x-forwarded-proto").lower()
        if forwarded in ("http", "https"):
            return forwarded
        scheme: str = self.scope.scheme
        return scheme

    @property
    def forwarded_host(self) -> str | None:
        """The host a trusted proxy forwarded (X-Forwarded-Host), if well-formed."""
        forwarded = self._forwarded("x-forwarded-host")
        return forwarded if forwarded and host_name(forwarded) is not None else None

    @property
    def host(self) -> str:
        """Host (and port) the client asked for (X-Forwarded-Host if trusted).

        The target's authority (absolute-form, HTTP/2) wins over ``Host``
        (RFC 9112 §3.2.2); the dispatcher has refused a malformed, repeated
        or not allowed one with 400 (see ``gobstopper.http.hosts``).
        """
        return (
            self.forwarded_host
            or self.scope.authority
            or self.headers.get("host")
            or self.scope.server
            or ""
        )

    @property
    def host_url(self) -> str:
        """``scheme://host``."""
        return f"{self.scheme}://{self.host}"

    @property
    def root_path(self) -> str:
        """Where the app serving this request is mounted (``''`` at the top)."""
        return getattr(self.scope, "root_path", "")

    @property
    def base_url(self) -> str:
        """Full URL without the query string (mount prefix included)."""
        return self.host_url + quote(self.root_path + self.path, safe=_PATH_SAFE)

    @property
    def url(self) -> str:
        """Full URL including the query string."""
        qs = self.query_string
        return f"{self.base_url}?{qs}" if qs else self.base_url

    # -- identity -------------------------------------------------------------
    @property
    def id(self) -> str:
        """A random id for this request, generated on first use."""
        if self._id is None:
            # PERF: lazy — uuid costs ~3 ms at import if nothing else loaded it (msgspec does).
            import uuid

            self._id = uuid.uuid4().hex
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        """Set the id (e.g. a trusted ``X-Request-ID``) before anything reads it."""
        self._id = value

    @property
    def has_id(self) -> bool:
        """Whether an id was set or generated already (reading ``id`` makes one)."""
        return self._id is not None

    @property
    def session_id(self) -> str | None:
        """Session id set by the session middleware, if any (read-only)."""
        return self._session_id

    def attach_session(self, session: dict[str, Any] | None, session_id: str | None) -> None:
        """Set ``session`` and the read-only ``session_id`` (for session middleware)."""
        self.session = session
        self._session_id = session_id

    @property
    def logger(self) -> logging.Logger:
        """The app's logger, or the framework's."""
        app_logger: logging.Logger | None = getattr(self.app, "logger", None)
        if app_logger is not None:
            return app_logger
        # PERF: lazy — logging costs ~4 ms at import; an app's own logger is the usual case.
        import logging

        return logging.getLogger("gobstopper")

    # -- body -----------------------------------------------------------------
    # Limits: ``max_body_bytes`` (default 10 MiB), ``max_json_depth`` (None:
    # 64) and ``body_limits`` (forms, uploads) are set by LimitsMiddleware.
    async def get_data(self) -> bytes:
        """The raw body, read once under ``max_body_bytes`` (else 413).

        Cached. If ``get_form()``/``get_files()`` already streamed a multipart
        body into the parser, the raw bytes are gone and ``RuntimeError`` is
        raised: call ``get_data()`` first to keep them.
        """
        if self._body is None:
            self._check_unread()
            try:
                self._body = await _body.read_body(self.protocol, self.headers, self.max_body_bytes)
            except HTTPException as exc:
                self._body_error = exc
                raise
            self._body_size = len(self._body)
        return self._body

    async def get_body(self) -> bytes:
        """Alias of ``get_data()``."""
        return await self.get_data()

    async def get_json(self) -> Any:
        """The JSON body decoded with msgspec (cached); ``None`` if empty.

        415 unless the Content-Type is ``application/json`` or
        ``application/*+json``; ``InvalidJSON`` (400, also a
        ``msgspec.DecodeError``) if the body is not JSON, not UTF-8 or nested
        deeper than ``max_json_depth``.
        """
        if self._json is _UNSET:
            body = await self._body_of_type(_body.is_json_media_type, "application/json")
            self._json = decode_json(body, None, self.json_depth_limit) if body else None
        return self._json

    async def json(self, model: type[Any] | None = None) -> Any:
        """The JSON body, decoded into ``model`` (a ``msgspec.Struct``) if given.

        ``None`` for an empty body without a model. Raises
        ``UnsupportedMediaType`` (415) for a non-JSON Content-Type and
        ``BodyValidationError`` (400) for an empty body when ``model`` is
        given, invalid JSON, or a mismatch (the message names the field path).
        """
        if model is None:
            return await self.get_json()
        body = await self._body_of_type(_body.is_json_media_type, "application/json")
        if not body:
            raise _empty_body(model)
        return decode_json(body, model, self.json_depth_limit)

    async def get_form(self) -> dict[str, list[str]]:
        """Form fields as ``{name: [values]}`` (cached); ``{}`` if not a form.

        Reads urlencoded bodies and the text fields of multipart bodies.
        """
        if self._form is None:
            kind = _body.media_type(self.headers)
            if kind == _body.FORM_URLENCODED:
                self._form = parse_urlencoded(
                    await self.get_data(), self.body_limits.max_form_fields
                )
            elif kind == _body.MULTIPART_FORM:
                await self._load_multipart(None)
            else:
                return {}
        return self._form  # type: ignore[return-value]

    async def form(self, model: type[Any] | None = None) -> Any:
        """The urlencoded body as ``{name: [values]}``, or ``model`` if given.

        ``None`` for an empty body without a model. 415 unless the body is
        ``application/x-www-form-urlencoded``; ``BodyValidationError`` (400)
        if it cannot be parsed or converted (the last value of a repeated
        field wins, except for list fields; ``"42"`` converts to ``42``).
        """
        body = await self._body_of_type(_is_urlencoded, _body.FORM_URLENCODED)
        if not body:
            if model is not None:
                raise _empty_body(model)
            return None
        fields = await self.get_form()
        return fields if model is None else form_to_model(fields, model)

    async def multipart(self, model: type[Any] | None = None, max_size: int | None = None) -> Any:
        """The text fields of a multipart body, or ``model`` if given.

        ``None`` for an empty body without a model. 415 unless the body is
        ``multipart/form-data``; ``BodyValidationError`` if it is malformed,
        holds a file part, cannot be converted to ``model``, or is larger than
        ``max_size`` (then it is a ``BodyTooLarge``, status 413).
        """
        fields: dict[str, list[str]] | None = None
        if _body.media_type(self.headers) == _body.MULTIPART_FORM:
            await self._load_multipart(max_size)
            if self._files:
                raise BodyValidationError(
                    "File uploads are not accepted here; use get_files()",
                    [{"loc": ["body", next(iter(self._files))], "msg": "file not allowed"}],
                )
            if self._body_size:
                fields = self._form
        elif await self._has_body():
            raise self._unread(UnsupportedMediaType(f"Content-Type must be {_body.MULTIPART_FORM}"))
        if fields is None:
            if model is not None:
                raise _empty_body(model)
            return None
        return fields if model is None else form_to_model(fields, model)

    async def get_files(self) -> dict[str, FileStorage]:
        """Uploaded files by field name (cached); ``{}`` if not multipart.

        Each is a ``FileStorage``; big ones live in temporary files that are
        removed when the request ends (``close()``). The returned dict's
        ``getlist(name)`` gives every file sent under one name.
        """
        if self._files is None:
            if _body.media_type(self.headers) != _body.MULTIPART_FORM:
                return {}
            await self._load_multipart(None)
        return self._files  # type: ignore[return-value]

    @property
    def files(self) -> Awaitable[dict[str, FileStorage]]:
        """Uploaded files, to be awaited: ``files = await request.files``."""
        return self.get_files()

    def close(self) -> None:
        """Release the body's resources (uploaded files' temporary files)."""
        if self._files is not None:
            self._files.close()

    @property
    def body_size(self) -> int | None:
        """Bytes of body read so far (also when streamed into the multipart parser).

        None until the body is read: ``0`` means an empty body.
        """
        return self._body_size

    @property
    def json_depth_limit(self) -> int:
        """The nesting limit JSON bodies are decoded under (``max_json_depth`` or 64)."""
        depth = self.max_json_depth
        return _body.DEFAULT_MAX_JSON_DEPTH if depth is None else depth

    def _check_unread(self) -> None:
        """Raise if the body was consumed without being kept."""
        if self._body_error is not None:
            raise self._body_error
        if self._body_size is not None:
            raise RuntimeError(
                "the request body was streamed into the multipart parser and not kept; "
                "call get_data() before get_form()/get_files() to keep the raw bytes"
            )

    def _unread(self, exc: HTTPException) -> HTTPException:
        """Close the connection with ``exc`` if the body is still unread."""
        if self._body is None:
            exc.headers.update(_body.CLOSE_CONNECTION)
        return exc

    async def _has_body(self) -> bool:
        """Is there a body? Uses Content-Length, else reads it (bounded)."""
        if self._body is None:
            length = _body.declared_length(self.headers)
            if length is not None:
                return length > 0
        return bool(await self.get_data())

    async def _body_of_type(self, accepts: Callable[[str], bool], expected: str) -> bytes:
        """The body if its media type ``accepts``; else 415 (unless empty)."""
        if accepts(_body.media_type(self.headers)):
            return await self.get_data()
        if await self._has_body():
            raise self._unread(UnsupportedMediaType(f"Content-Type must be {expected}"))
        return b""

    async def _load_multipart(self, max_size: int | None) -> None:
        """Parse the multipart body once into ``_form`` and ``_files``."""
        if self._files is not None:
            if max_size is not None and (self._body_size or 0) > max_size:
                raise _max_size_error(max_size)
            return
        if self._body is None:
            self._check_unread()
        elif self._body_error is not None:
            raise self._body_error
        # PERF: lazy — multipart (python_multipart, tempfile, shutil, unicodedata) costs
        # ~10 ms at import; only multipart bodies need it.
        from gobstopper.http.multipart import MultipartReader

        try:
            reader = MultipartReader(self.headers.get("content-type", ""), self.body_limits)
        except HTTPException as exc:  # a bad boundary: nothing was read
            raise self._unread(exc) from None
        try:
            await self._feed_multipart(reader, max_size)
            self._form, self._files = reader.finish()
        except BaseException as exc:
            reader.close()
            streamed_part_way = self._body_size is None
            if streamed_part_way:
                self._body_size = reader.received
            if isinstance(exc, HTTPException):
                if streamed_part_way:
                    exc.headers.update(_body.CLOSE_CONNECTION)
                self._body_error = exc
            raise

    async def _feed_multipart(self, reader: MultipartReader, max_size: int | None) -> None:
        """Feed the kept body, or stream the protocol's, into ``reader``."""
        if self._body is not None:
            if max_size is not None and len(self._body) > max_size:
                raise _max_size_error(max_size)
            reader.feed_all(self._body)
            return
        limit = self.max_body_bytes
        error: Callable[[int], HTTPException] = _body.too_large
        if max_size is not None and (limit is None or max_size < limit):
            limit, error = max_size, _max_size_error
        async for chunk in _body.iter_body(self.protocol, self.headers, limit, error):
            reader.feed(chunk)
        self._body_size = reader.received

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


def _is_urlencoded(kind: str) -> bool:
    return kind == _body.FORM_URLENCODED


def _empty_body(model: type[Any]) -> BodyValidationError:
    return BodyValidationError(
        f"Request body required ({model.__name__})", [{"loc": ["body"], "msg": "Field required"}]
    )


def _max_size_error(max_size: int) -> BodyTooLarge:
    return BodyTooLarge(f"Request body too large (max_size {max_size} bytes)")
