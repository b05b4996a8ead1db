"""The HTTP request: a lazy view over Granian's RSGI scope and protocol.

Nothing is parsed until asked for; every parsed value is cached in a
``__slots__`` field. ``__dict__`` is kept as the last slot so that hooks can
attach request-scoped data (``request.user = ...``) as the reference shows.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from gobstopper.http import body as _body
from gobstopper.http.cookies import parse_cookie_header
from gobstopper.http.errors import BadRequest
from gobstopper.http.proxy import ProxyTrust, split_peer

if TYPE_CHECKING:
    from gobstopper.http.multipart import FileStorage

_framework_logger = logging.getLogger("gobstopper")
_DEFAULT_TRUST = ProxyTrust()
#: Most query parameters parsed; more is a sign of abuse (see ``args``).
MAX_QUERY_PARAMS = 1000


class Request:
    """An HTTP request handed to handlers, hooks and middleware."""

    __slots__ = (
        "__dict__",
        "_args",
        "_body",
        "_cookies",
        "_files",
        "_form",
        "_headers",
        "_id",
        "_json",
        "_peer",
        "app",
        "endpoint",
        "max_body_bytes",
        "max_json_depth",
        "protocol",
        "proxy_trust",
        "scope",
        "session",
        "url_rule",
        "view_args",
    )

    def __init__(self, scope: Any, protocol: Any) -> None:
        self.scope = scope
        self.protocol = protocol
        self.app: Any = None
        self.session: dict[str, Any] | None = None
        self.endpoint: str | None = None
        self.view_args: dict[str, Any] = {}
        self.url_rule: str | None = None
        self.max_body_bytes: int | None = _body.DEFAULT_MAX_BODY_BYTES
        self.max_json_depth: int | None = None
        self.proxy_trust: ProxyTrust = _DEFAULT_TRUST
        self._headers: dict[str, str] | None = None
        self._args: dict[str, list[str]] | None = None
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._json: Any = _UNSET
        self._form: dict[str, list[str]] | None = None
        self._files: dict[str, FileStorage] | None = None
        self._id: str | None = None
        self._peer: str | None = None

    # -- request line ---------------------------------------------------------
    @property
    def method(self) -> str:
        """HTTP method in upper case."""
        return self.scope.method

    @property
    def path(self) -> str:
        """Decoded path without the query string."""
        return self.scope.path

    @property
    def query_string(self) -> str:
        """Raw query string without the leading ``?``."""
        return self.scope.query_string

    @property
    def args(self) -> dict[str, list[str]]:
        """Query parameters as ``{name: [values]}`` (at most 1,000 are parsed)."""
        if self._args is None:
            qs = self.scope.query_string
            if not qs:
                self._args = {}
            else:
                try:
                    self._args = parse_qs(
                        qs, keep_blank_values=True, max_num_fields=MAX_QUERY_PARAMS
                    )
                except ValueError as exc:
                    raise BadRequest(
                        f"Too many query parameters (at most {MAX_QUERY_PARAMS})"
                    ) from exc
        return self._args

    # -- headers --------------------------------------------------------------
    @property
    def headers(self) -> dict[str, str]:
        """Headers with lower-case names; repeated headers are joined."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for name, value in self.scope.headers.items():
                name = name.lower()
                if name in headers:
                    sep = "; " if name == "cookie" else ", "
                    headers[name] = headers[name] + sep + value
                else:
                    headers[name] = value
            self._headers = headers
        return self._headers

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from the ``Cookie`` header."""
        if self._cookies is None:
            raw = self.headers.get("cookie")
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

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` (X-Forwarded-Proto from a trusted proxy wins)."""
        if self._trusted_peer():
            forwarded = self.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            if forwarded in ("http", "https"):
                return forwarded
        return self.scope.scheme

    @property
    def host(self) -> str:
        """Host (and port) the client asked for (X-Forwarded-Host if trusted)."""
        if self._trusted_peer():
            forwarded = self.headers.get("x-forwarded-host", "").split(",")[0].strip()
            if forwarded:
                return forwarded
        return self.headers.get("host") or self.scope.authority or self.scope.server

    @property
    def host_url(self) -> str:
        """``scheme://host``."""
        return f"{self.scheme}://{self.host}"

    @property
    def base_url(self) -> str:
        """Full URL without the query string."""
        return self.host_url + self.path

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
            self._id = uuid.uuid4().hex
        return self._id

    @property
    def session_id(self) -> str | None:
        """Session id set by the session middleware, if any (read-only)."""
        return self.__dict__.get("_session_id")

    @property
    def logger(self) -> logging.Logger:
        """The app's logger, or the framework's."""
        app_logger = getattr(self.app, "logger", None)
        return app_logger if app_logger is not None else _framework_logger

    # -- body -----------------------------------------------------------------
    async def get_data(self) -> bytes:
        """The raw body, read once under ``max_body_bytes`` (``RequestTooLarge``)."""
        if self._body is None:
            self._body = await _body.read_body(self.protocol, self.headers, self.max_body_bytes)
        return self._body

    async def get_body(self) -> bytes:
        """Alias of ``get_data()``."""
        return await self.get_data()

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


class _Unset:
    __slots__ = ()


_UNSET: Any = _Unset()
