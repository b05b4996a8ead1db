"""SecurityMiddleware: server-side sessions, CSRF protection and security headers.

Sessions: the cookie holds only a random id (HMAC-signed with
``sign_session_id``); the data lives in ``session_storage``, sync or async.
``request.session`` is a plain dict, saved after the handler when it changed
(its JSON encoding is compared, so nested changes count) or on every request
with ``rolling_sessions``. A visitor whose session stays empty gets no cookie;
emptying a session deletes it and its cookie. A new session always gets a
fresh id, never one the client sent (no session fixation); the id is made
after the handler, so ``request.session_id`` is None during that first request.

Choices the reference leaves open:

* Default storage: ``FileSessionStorage`` in ``<tempdir>/gobstopper-sessions-<uid>``
  (mode 0o700, owner checked), created on first use; its files outlive a
  restart and are shared by the workers of one host, not by several hosts.
* Sync storages are called on the event loop (the file store reads and writes
  one small file); a slow backend should implement ``AsyncBaseSessionStorage``.
* A storage that fails to load is logged and a safe request runs without a
  session; an unsafe one that CSRF protection would check is answered 503
  (the session, and so its token, could not be loaded: an outage, not an
  attack). A failure to save or delete is not caught: the app answers 500,
  because reporting success for a change that was lost would be worse.
* A handler that raises keeps its session changes unsaved (like a rolled-back
  transaction). Every response of the routes it wraps gets the headers, error
  pages and 500s included: the dispatcher calls ``finalize_response`` on them.
* Shared caches: every response gets ``Vary: Cookie``, and one that belongs to
  a session (the request brought the session cookie, or a session was made)
  also ``Cache-Control: private`` unless the handler set its own
  Cache-Control, so one user's page is never served to another.
* ``Strict-Transport-Security`` is sent on HTTPS requests only
  (``request.scheme``, so a trusted proxy's X-Forwarded-Proto counts), as
  RFC 6797 §7.2 requires; an empty policy string leaves that header out.
* Under ``ENV=production`` the session cookie is always ``Secure; HttpOnly;
  SameSite=Strict``, decided at construction; ``WOPR_ALLOW_INSECURE_COOKIES``
  relaxes ``Response.set_cookie`` only, never this cookie.
* CSRF tokens are masked afresh on every ``generate_csrf_token`` call and
  rotated by ``regenerate_session_id`` (see ``gobstopper.middleware.csrf``).
* CSRF exemptions: the middleware protects what it wraps, so for a JSON API
  that authenticates with a header instead of cookies, add it to the
  blueprints serving browser pages (``bp.add_middleware(security)``) or to
  single routes (``@app.post(..., middleware=[security])``) rather than the app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, NamedTuple

import msgspec

from gobstopper.http.cookies import build_set_cookie
from gobstopper.http.errors import ServiceUnavailable
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse
from gobstopper.http.vary import add_vary, make_private
from gobstopper.middleware.csrf import (
    SAFE_METHODS,
    CSRFError,
    request_is_trusted,
    rotate_token,
    session_token,
)
from gobstopper.middleware.security_settings import (
    cookie_flags,
    default_session_dir,
    header_pairs,
    hsts_value,
    secret_or_random,
)
from gobstopper.service_checks import ServiceCheck, checks_of
from gobstopper.sessions.storage import (
    DEFAULT_TTL,
    AsyncBaseSessionStorage,
    BaseSessionStorage,
    FileSessionStorage,
    is_valid_session_id,
    maybe_await,
)

logger = logging.getLogger("gobstopper.security")

SessionStorage = BaseSessionStorage | AsyncBaseSessionStorage

_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
_SIGNING_CONTEXT = b"gobstopper session id"


class _Arrival(NamedTuple):
    """What a request arrived with, to decide what to save and send afterwards."""

    cookie_sent: bool
    session_id: str | None
    snapshot: bytes | None  # None: not encodable, so it is always saved
    load_failed: bool  # the storage raised: the session may exist but is unknown


def _snapshot(data: dict[str, Any]) -> bytes | None:
    try:
        return msgspec.json.encode(data)
    except TypeError:  # not JSON data: saving will raise the storage's clear error
        return None


class SecurityMiddleware:
    """Sessions, CSRF protection and security headers for an app, blueprint or route.

    ``secret_key`` signs session ids (required under ``ENV=production``; a
    random one otherwise, with a warning unless ``debug``). ``enable_csrf``
    makes every unsafe request echo ``generate_csrf_token(request.session)``
    (otherwise ``CSRFError``, a 403 rendered like other errors: HTML or JSON by
    ``Accept``, or ``@app.error_handler(403)``). ``enable_security_headers``
    adds HSTS, CSP, Referrer-, COOP and COEP policies, ``nosniff`` and
    ``X-Frame-Options: DENY`` to responses that do not set them. The
    ``cookie_*`` arguments shape the session cookie (``SameSite=None`` needs
    ``cookie_secure``).
    """

    def __init__(
        self,
        secret_key: str | None = None,
        enable_csrf: bool = True,
        enable_security_headers: bool = True,
        hsts_max_age: int = 31536000,
        hsts_include_subdomains: bool = True,
        csp_policy: str = "default-src 'self'; object-src 'none'",
        referrer_policy: str = "strict-origin-when-cross-origin",
        coop_policy: str = "same-origin",
        coep_policy: str = "require-corp",
        session_storage: SessionStorage | None = None,
        debug: bool = False,
        cookie_name: str = "session_id",
        cookie_secure: bool = True,
        cookie_httponly: bool = True,
        cookie_samesite: str = "Strict",
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        cookie_max_age: int = 604800,
        rolling_sessions: bool = False,
        sign_session_id: bool = False,
    ) -> None:
        secret = secret_or_random(secret_key, debug)
        # A key of its own for ids, so the secret can serve other purposes safely.
        self._signing_key = hmac.new(secret.encode(), _SIGNING_CONTEXT, hashlib.sha256).digest()
        self.enable_csrf = enable_csrf
        self.enable_security_headers = enable_security_headers
        self.session_storage = session_storage
        self.debug = debug
        self.cookie_name = cookie_name
        self.cookie_secure, self.cookie_httponly, self.cookie_samesite = cookie_flags(
            cookie_secure, cookie_httponly, cookie_samesite
        )
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.cookie_max_age = cookie_max_age
        self.rolling_sessions = rolling_sessions
        self.sign_session_id = sign_session_id
        # A bad name, path or domain fails here rather than on the first response.
        build_set_cookie(cookie_name, "x", **self._cookie_args(cookie_max_age, None))
        self._headers: tuple[tuple[str, str], ...] = ()
        self._hsts: str | None = None
        if enable_security_headers:
            self._headers = header_pairs(csp_policy, referrer_policy, coop_policy, coep_policy)
            self._hsts = hsts_value(hsts_max_age, hsts_include_subdomains)
        # The request being handled, so destroy_session() can end the current session.
        self._current: ContextVar[Request | None] = ContextVar("security_request", default=None)

    # -- session ids -----------------------------------------------------------
    def create_session_id(self) -> str:
        """A new random session id: ``secrets.token_urlsafe(32)``, 43 characters."""
        return secrets.token_urlsafe(32)

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._signing_key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def signed_session_id(self, session_id: str) -> str:
        """The cookie value for ``session_id``: ``"id.signature"`` when signing, else the id."""
        if not self.sign_session_id:
            return session_id
        return f"{session_id}.{self._sign(session_id)}"

    def _verified_id(self, cookie: str) -> str | None:
        """The session id in a cookie value, or None if malformed or badly signed."""
        session_id, signature = cookie, ""
        if self.sign_session_id:
            session_id, _, signature = cookie.rpartition(".")
        if not is_valid_session_id(session_id):
            return None
        if self.sign_session_id and not hmac.compare_digest(
            signature.encode("utf-8", "surrogatepass"), self._sign(session_id).encode()
        ):
            return None
        return session_id

    def get_session_id(self, request: Request) -> str | None:
        """The id of the request's stored session, or None if it has none."""
        return request.session_id

    # -- request handling ------------------------------------------------------
    async def __call__(
        self, request: Request, call_next: Callable[[Request], Awaitable[BaseResponse]]
    ) -> BaseResponse:
        """Load the session, check CSRF, call the handler, save, add the headers."""
        arrival = await self._open(request)
        token = self._current.set(request)
        try:
            # PERF: in this frame, not a coroutine of its own: ~1,500 instructions.
            if self.enable_csrf and request.method not in SAFE_METHODS:
                if arrival.load_failed:
                    raise ServiceUnavailable("Session storage unavailable")
                if not await request_is_trusted(request):
                    logger.warning("CSRF check failed for %s %r", request.method, request.path)
                    raise CSRFError()
            response = await call_next(request)
            await self._commit(request, response, arrival)
        finally:
            self._current.reset(token)
        self.finalize_response(request, response)
        return response

    async def _open(self, request: Request) -> _Arrival:
        """Attach the cookie's session (a dict) and its id to the request."""
        cookie = request.cookies.get(self.cookie_name)
        session_id = self._verified_id(cookie) if cookie else None
        data = None
        failed = False
        if session_id is not None:
            try:
                data = await maybe_await(self._storage().load(session_id))
            except Exception:
                logger.exception("session storage failed to load a session; going on without it")
                cookie = None  # keep the client's cookie: the session may still exist
                failed = True
        if not isinstance(data, dict):
            session_id, data = None, {}
        request.attach_session(data, session_id)
        return _Arrival(cookie is not None, session_id, _snapshot(data), failed)

    async def _commit(self, request: Request, response: BaseResponse, arrival: _Arrival) -> None:
        """Save, create or delete the session, and set or expire its cookie."""
        data = request.session
        session_id = request.session_id
        if not data:
            if session_id is not None:
                await maybe_await(self._storage().delete(session_id))
            if arrival.cookie_sent:
                self._set_cookie(response, "", 0, _EPOCH)
            return
        if session_id is None:
            session_id = self.create_session_id()
            request.attach_session(data, session_id)
        if self.rolling_sessions or arrival.snapshot is None or _snapshot(data) != arrival.snapshot:
            await maybe_await(self._storage().save(session_id, data))
        if self.rolling_sessions or session_id != arrival.session_id:
            self._set_cookie(response, self.signed_session_id(session_id), self.cookie_max_age)

    def service_checks(self) -> list[ServiceCheck]:
        """The servers the session storage needs (none for file and memory storage)."""
        return checks_of(self.session_storage)

    def _storage(self) -> SessionStorage:
        if self.session_storage is None:
            self.session_storage = FileSessionStorage(
                default_session_dir(), ttl=self.cookie_max_age or DEFAULT_TTL
            )
        return self.session_storage

    # -- cookies and headers ---------------------------------------------------
    def _cookie_args(self, max_age: int | None, expires: str | None) -> dict[str, Any]:
        return {
            "path": self.cookie_path,
            "domain": self.cookie_domain,
            "max_age": max_age,
            "expires": expires,
            "secure": self.cookie_secure,
            "httponly": self.cookie_httponly,
            "samesite": self.cookie_samesite,
        }

    def _set_cookie(
        self, response: BaseResponse, value: str, max_age: int | None, expires: str | None = None
    ) -> None:
        # Expired with the same flags it was set with: a Secure deletion is
        # ignored by browsers on plain-HTTP development sites.
        response.set_cookie(self.cookie_name, value, **self._cookie_args(max_age, expires))

    def finalize_response(self, request: Request, response: BaseResponse) -> None:
        """Add the security and cache headers to ``response`` (where it lacks them).

        Called on each response this middleware returns, and by the dispatcher
        on error pages and framework answers of the routes it wraps.
        """
        headers = response.headers
        add_vary(headers, "Cookie")
        if request.session_id is not None or self.cookie_name in request.cookies:
            make_private(headers)
        if self.enable_security_headers:
            self._add_security_headers(request, headers)

    def _add_security_headers(self, request: Request, headers: dict[str, str]) -> None:
        """Add the security headers that ``headers`` does not already have."""
        present = {name.lower() for name in headers}
        for name, value in self._headers:
            if name not in present:
                headers[name] = value
        if self._hsts and "strict-transport-security" not in present and request.scheme == "https":
            headers["strict-transport-security"] = self._hsts

    # -- public session API -----------------------------------------------------
    def generate_csrf_token(self, session: dict[str, Any]) -> str:
        """A CSRF token for a form or header, valid for the session.

        Each call returns a fresh masking of the session's secret (kept under
        ``session['csrf_token']``, created on first use), so no two renders
        embed the same string (BREACH); all stay valid until the secret is
        rotated by ``regenerate_session_id`` or the session ends.
        """
        return session_token(session)

    async def create_session(self, data: dict[str, Any]) -> str:
        """Store ``data`` as a new session and return its id.

        The caller sends the cookie: ``signed_session_id(id)`` is its value.
        """
        session_id = self.create_session_id()
        await maybe_await(self._storage().save(session_id, data))
        return session_id

    async def destroy_session(self, session_id: str) -> None:
        """Delete a session (a missing one is fine).

        When it is the session of the request being handled, that request's
        session is emptied too, so its cookie is expired and nothing is saved back.
        """
        await maybe_await(self._storage().delete(session_id))
        request = self._current.get()
        if request is not None and request.session_id == session_id:
            request.attach_session({}, None)

    async def regenerate_session_id(self, request: Request) -> str | None:
        """Move the request's session to a new id (call it after login); None if none.

        The data is saved under the new id, the old id is deleted and the
        response carries the new cookie. The CSRF secret is rotated too (as
        Django's ``rotate_token`` on login), so tokens issued before no longer
        validate: render new ones with ``generate_csrf_token``.
        """
        old_id = request.session_id
        if old_id is None or not request.session:
            return None
        rotate_token(request.session)
        new_id = self.create_session_id()
        storage = self._storage()
        await maybe_await(storage.save(new_id, request.session))
        await maybe_await(storage.delete(old_id))
        request.attach_session(request.session, new_id)
        return new_id

    def __repr__(self) -> str:
        return (
            f"SecurityMiddleware(csrf={self.enable_csrf}, "
            f"headers={self.enable_security_headers}, cookie={self.cookie_name!r})"
        )
