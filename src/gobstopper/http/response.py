"""Response objects: each one knows the single RSGI call that sends it.

``Response`` (str/bytes), ``JSONResponse`` (msgspec), ``FileResponse``
(``proto.response_file``: Rust reads the file) and ``StreamResponse``
(``proto.response_stream``). The contract is one method,
``send(proto, request)`` (``send_head`` for HEAD): it looks at the request
where it must (a file's 304 and 206 answers) and makes exactly one
``proto.response_*`` call. It returns ``None`` for the synchronous calls and
an awaitable for streams, so the dispatcher only awaits when it must. Any
protocol object with Granian's ``response_*`` methods will do (the ASGI
adapter presents one).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from gobstopper.http.conditional import (
    UNSATISFIABLE,
    http_date,
    if_range_allows,
    is_not_modified,
    make_etag,
    parse_range,
)
from gobstopper.http.cookies import build_delete_cookie, build_set_cookie
from gobstopper.http.json import dumps
from gobstopper.http.safe_path import regular_file_stat
from gobstopper.http.streaming import check_source, open_source, stream_chunks

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from datetime import datetime

    from gobstopper.http.request import Request
    from gobstopper.http.streaming import ChunkSource
    from gobstopper.rsgi_types import RSGIHTTPProtocol

Headers = list[tuple[str, str]]

_TEXT_HTML = "text/html; charset=utf-8"
_OCTET = "application/octet-stream"
_JSON = "application/json"
# Statuses that must not carry a body.
_NO_BODY = frozenset({204, 304})


def _unsafe(text: str) -> bool:
    text = str(text)
    return "\r" in text or "\n" in text or "\x00" in text


class HeaderInjectionError(ValueError):
    """A header name or value contains CR, LF or NUL."""


#: Header names and values that passed the check. An app sends the same few on
#: every response (its content types, its middleware's headers), so checking
#: one again is a set lookup instead of a scan of its characters. Names and
#: values are compared by value: only exact ``str`` instances are kept, at most
#: ``_KNOWN_LENGTH`` characters each, and the set starts again empty once it
#: holds ``_KNOWN_MAX``, so values that never repeat (a request id) cannot grow it.
_known_safe: set[str] = set()
_KNOWN_MAX = 512
_KNOWN_LENGTH = 1024


def _check_headers(headers: dict[str, Any]) -> Headers:
    """Headers as str pairs; ``HeaderInjectionError`` for CR, LF or NUL in any.

    PERF: callgrind instructions per request, SecurityMiddleware's 8 headers:
    79,500 -> 72,800 against a ``str.isprintable`` scan of each name and value.
    A value never seen before (a request id) is checked alone, in one pass: four
    known pairs and a fresh id cost 11,200 instructions, as the full scan did.
    """
    items: Headers = [*headers.items()]
    known = _known_safe
    try:
        for name, value in items:
            if name in known and value in known:
                continue
            # A name or value not seen before (a request id): check the new one alone.
            if (name not in known and not _remember_if_safe(name)) or (
                value not in known and not _remember_if_safe(value)
            ):
                return _checked_slowly(items)
    except TypeError:  # an unhashable name or value
        return _checked_slowly(items)
    return items


def _remember_if_safe(text: Any) -> bool:
    """Is ``text`` a printable str? Remember it if it is.

    Anything else (a tab, a non-str, a str subclass) answers False: the slow
    path converts it to str and refuses only CR, LF and NUL.
    """
    if type(text) is not str or not text.isprintable():
        return False
    if len(text) <= _KNOWN_LENGTH:
        if len(_known_safe) >= _KNOWN_MAX:
            _known_safe.clear()
        _known_safe.add(text)
    return True


def _checked_slowly(items: Headers) -> Headers:
    checked: Headers = []
    for name, value in items:
        name, value = str(name), str(value)
        if _unsafe(name) or _unsafe(value):
            raise HeaderInjectionError(f"header {name!r} contains CR, LF or NUL")
        checked.append((name, value))
    return checked


class BaseResponse:
    """Status, headers and cookies shared by every response kind, and how to send it.

    Subclasses override ``send`` (and ``send_head``) with their one protocol
    call; a bare ``BaseResponse`` is sent as status and headers, no body.
    """

    __slots__ = ("_content_type", "_headers", "_lines", "status")
    #: The only header while ``_headers`` is None (set, and checked, with it).
    _content_type: str

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self._headers: dict[str, str] | None = dict(headers) if headers else {}
        if headers:
            _check_headers(self._headers)
        #: Lines sent after the dict's, and not in it: Set-Cookie and ``add_header``.
        self._lines: Headers | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The response headers, a dict to read and change (names as given)."""
        headers = self._headers
        if headers is None:
            # PERF: a response built with only a content type (nearly all) has no dict
            # until something asks for it; sending it then needs no header check.
            headers = self._headers = {"content-type": self._content_type}
        return headers

    @headers.setter
    def headers(self, headers: dict[str, str]) -> None:
        self._headers = headers

    @property
    def status_code(self) -> int:
        """Alias of ``status`` (Starlette/Flask spelling)."""
        return self.status

    def set_cookie(
        self,
        name: str,
        value: str = "",
        path: str = "/",
        domain: str | None = None,
        max_age: int | None = None,
        expires: str | datetime | None = None,
        secure: bool = True,
        httponly: bool = True,
        samesite: str | None = "Strict",
    ) -> None:
        """Add a ``Set-Cookie`` header with secure defaults.

        Under ``ENV=production`` insecure flags are upgraded (with a warning)
        unless ``WOPR_ALLOW_INSECURE_COOKIES`` is set. Raises ``ValueError``
        for names or values that would inject attributes or headers.
        """
        cookie = build_set_cookie(
            name,
            value,
            path=path,
            domain=domain,
            max_age=max_age,
            expires=expires,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self._add_line("set-cookie", cookie)

    def delete_cookie(self, name: str, path: str = "/", domain: str | None = None) -> None:
        """Expire cookie ``name``; ``path``/``domain`` must match the original."""
        self._add_line("set-cookie", build_delete_cookie(name, path=path, domain=domain))

    def add_header(self, name: str, value: str) -> None:
        """Add a header line, sent after ``headers`` and kept out of it, as cookies are.

        Like Werkzeug's ``Headers.add``: a line of the same name in ``headers``
        is not replaced, both are sent. Checked now; and, unlike a change to
        ``headers``, it does not make a response that has only its content
        type build and check a header dict when sent.

        Raises:
            HeaderInjectionError: ``name`` or ``value`` has CR, LF or NUL.
        """
        if not (name.isprintable() and value.isprintable()) and (_unsafe(name) or _unsafe(value)):
            raise HeaderInjectionError(f"header {name!r} contains CR, LF or NUL")
        self._add_line(name, value)

    def _add_line(self, name: str, value: str) -> None:
        lines = self._lines
        if lines is None:
            self._lines = [(name, value)]
        else:
            lines.append((name, value))

    def to_rsgi_headers(self) -> Headers:
        """Headers as RSGI wants them: ``(name, value)`` tuples, then the added lines.

        Raises ``HeaderInjectionError`` when a name or value has CR/LF/NUL.
        """
        headers = self._headers
        if headers is None:
            # Only the content type, checked when it was set, and nothing changed since.
            items: Headers = [("content-type", self._content_type)]
        else:
            # Checked again here: headers may have been changed since construction.
            items = _check_headers(headers)
        if self._lines:
            items.extend(self._lines)
        return items

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive read of a response header."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default

    def send(self, proto: RSGIHTTPProtocol, request: Request) -> Awaitable[None] | None:
        """Answer ``request`` on ``proto`` with one ``response_*`` call.

        Returns None once sent, or (streams) an awaitable that sends the body.
        """
        proto.response_empty(self.status, self.to_rsgi_headers())
        return None

    def send_head(self, proto: RSGIHTTPProtocol, request: Request) -> None:
        """Answer a HEAD request: same status and headers, no body."""
        proto.response_empty(self.status, self.to_rsgi_headers())


def _with_content_type(
    headers: dict[str, str] | None, content_type: str | None, default: str
) -> dict[str, str]:
    if headers is None:
        return {"content-type": content_type or default}
    merged = dict(headers)
    if content_type is not None:
        for key in [k for k in merged if k.lower() == "content-type"]:
            del merged[key]
        return {"content-type": content_type, **merged}
    if any(k.lower() == "content-type" for k in merged):
        return merged
    return {"content-type": default, **merged}


def _as_body(body: Any) -> str | bytes:
    """A Response body from None (empty), bytearray or memoryview; TypeError otherwise."""
    if body is None:
        return b""
    if isinstance(body, (str, bytes)):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"Response body must be str or bytes, not {type(body).__name__}")


class Response(BaseResponse):
    """An HTTP response with a str or bytes body.

    ``content_type`` defaults to ``text/html; charset=utf-8`` for str and
    ``application/octet-stream`` for bytes.
    """

    __slots__ = ("body",)

    def __init__(
        self,
        body: str | bytes = "",
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        kind = type(body)
        if kind is not str and kind is not bytes:
            body = _as_body(body)
            kind = type(body)
        self.body = body
        self.status = status
        self._lines = None
        if headers is None:
            # PERF: the common shape (no extra headers) skips the merge and the
            # per-header check: ~0.7 us -> ~0.3 us per Response in the in-process benchmark.
            if content_type is None:
                content_type = _TEXT_HTML if kind is str else _OCTET
            elif (
                type(content_type) is not str
                or "\r" in content_type
                or "\n" in content_type
                or "\x00" in content_type
            ):
                if _unsafe(content_type):
                    raise HeaderInjectionError("content_type contains CR, LF or NUL")
                content_type = str(content_type)
            self._headers = None
            self._content_type = content_type
            return
        merged = _with_content_type(headers, content_type, _TEXT_HTML if kind is str else _OCTET)
        _check_headers(merged)
        self._headers = merged

    def send(self, proto: RSGIHTTPProtocol, request: Request) -> None:
        """Send with exactly one ``response_str``/``bytes``/``empty`` call."""
        body = self.body
        if not body and self.status in _NO_BODY:
            proto.response_empty(self.status, self.to_rsgi_headers())
        elif isinstance(body, str):
            proto.response_str(self.status, self.to_rsgi_headers(), body)
        else:
            proto.response_bytes(self.status, self.to_rsgi_headers(), body)

    def send_head(self, proto: RSGIHTTPProtocol, request: Request) -> None:
        """Answer HEAD with the GET headers, including the body's length."""
        headers = self.to_rsgi_headers()
        body = self.body
        size = len(body.encode()) if isinstance(body, str) else len(body)
        if self.status not in _NO_BODY:
            headers.append(("content-length", str(size)))
        proto.response_empty(self.status, headers)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers.get('content-type', '')!r}>"


def plain_response_of(body: str | bytes, content_type: str) -> Response:
    """A 200 ``Response`` with one trusted content type, built without checks.

    PERF: for responses the framework builds itself (return-value coercion,
    rendered templates), where the content type is a framework constant; skips
    ``__init__``'s type and header validation (~0.3 us).
    """
    response = Response.__new__(Response)
    response.body = body
    response.status = 200
    response._headers = None
    response._content_type = content_type
    response._lines = None
    return response


class JSONResponse(Response):
    """A response whose body is ``data`` encoded as JSON with msgspec."""

    __slots__ = ()

    def __init__(self, data: Any, status: int = 200, **kwargs: Any) -> None:
        if not kwargs:
            # PERF: a positional call into Response's no-headers fast path, without
            # filling a kwargs dict: ~1.0 us -> ~0.6 us per JSONResponse.
            Response.__init__(self, dumps(data), status, None, _JSON)
            return
        kwargs.setdefault("content_type", _JSON)
        super().__init__(dumps(data), status, **kwargs)


class _Plan(NamedTuple):
    """How a FileResponse answers: status, headers and which RSGI call."""

    status: int
    headers: Headers
    kind: str  # "file" | "range" | "empty" | "text"
    first: int = 0
    last: int = 0
    text: str = ""


_PLAIN = "text/plain; charset=utf-8"
_NOT_FOUND = _Plan(404, [("content-type", _PLAIN)], "text", text="Not Found")
# Representation headers a 304 must not carry (RFC 9110 §15.4.5).
_NOT_FOR_304 = frozenset(
    {"content-type", "content-length", "content-disposition", "content-encoding", "content-range"}
)


class FileResponse(Response):
    """Serve a file from disk through ``proto.response_file`` (read by Rust).

    A ``Response`` (as the reference documents) whose ``body`` stays empty:
    the content is read from ``file_path`` by Rust when sending. ``filename``
    (default: the path's basename) is announced in
    ``Content-Disposition: attachment`` (``as_attachment=False`` sends
    ``inline`` when a filename was given, else no disposition). The MIME
    type comes from the extension unless ``content_type`` is given. A
    missing or unreadable file answers 404 (plain text), never 500.

    Sent for a request (``send(proto, request)``), a 200 response also
    honours ``If-None-Match``/``If-Modified-Since`` (304) and one ``Range``
    (206 via ``response_file_range``, 416 when outside the file). ``ETag``,
    ``Last-Modified``, ``Accept-Ranges`` and ``Content-Length`` are always
    sent; ``conditional=False`` turns the validators and ranges off.
    """

    __slots__ = ("_conditional", "file_path", "filename")

    def __init__(
        self,
        path: str | os.PathLike[str],
        filename: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        content_type: str | None = None,
        as_attachment: bool = True,
        conditional: bool = True,
    ) -> None:
        # PERF: lazy — mimetypes costs ~1 ms at import; only file responses need it.
        import mimetypes

        self.file_path = _resolved(path)
        self.filename = filename or os.path.basename(self.file_path) or "download"
        guessed = (
            mimetypes.guess_type(self.filename)[0]
            or mimetypes.guess_type(self.file_path)[0]
            or _OCTET
        )
        # NOTE: not Response.__init__: the body is on disk, and the headers are merged here.
        BaseResponse.__init__(self, status, _with_content_type(headers, content_type, guessed))
        self.body = b""
        disposition = "attachment" if as_attachment else ("inline" if filename else None)
        if disposition and not any(k.lower() == "content-disposition" for k in self.headers):
            self.headers["content-disposition"] = content_disposition(disposition, self.filename)
        self._conditional = conditional

    def _plan(self, request: Request, allow_range: bool) -> _Plan:
        info = regular_file_stat(self.file_path)
        if info is None:
            return _NOT_FOUND
        headers = self.to_rsgi_headers()
        size = info.st_size
        if self.status != 200 or not self._conditional:
            headers.append(("content-length", str(size)))
            return _Plan(self.status, headers, "file")
        etag = self.header("etag")
        if etag is None:
            etag = make_etag(info)
            headers.append(("etag", etag))
        if self.header("last-modified") is None:
            headers.append(("last-modified", http_date(info.st_mtime)))
        headers.append(("accept-ranges", "bytes"))
        method = request.method
        if method == "GET" or method == "HEAD":
            asked = request.headers
            if is_not_modified(
                asked.get("if-none-match"), asked.get("if-modified-since"), etag, info.st_mtime
            ):
                kept = [(k, v) for k, v in headers if k.lower() not in _NOT_FOR_304]
                return _Plan(304, kept, "empty")
            if allow_range and method == "GET":
                span = _requested_span(asked, etag, info.st_mtime, size)
                if span is UNSATISFIABLE:
                    return _Plan(
                        416,
                        [("content-range", f"bytes */{size}"), ("content-type", _PLAIN)],
                        "text",
                        text="Range Not Satisfiable",
                    )
                if span is not None:
                    first, last = span
                    headers.append(("content-range", f"bytes {first}-{last}/{size}"))
                    headers.append(("content-length", str(last - first + 1)))
                    return _Plan(206, headers, "range", first, last)
        headers.append(("content-length", str(size)))
        return _Plan(200, headers, "file")

    def send(self, proto: RSGIHTTPProtocol, request: Request) -> None:
        """Send with one ``response_file``/``response_file_range``/``str``/``empty`` call."""
        plan = self._plan(request, allow_range=True)
        kind = plan.kind
        if kind == "file":
            proto.response_file(plan.status, plan.headers, self.file_path)
        elif kind == "range":
            # Granian's end offset is exclusive (checked against a real server).
            proto.response_file_range(
                plan.status, plan.headers, self.file_path, plan.first, plan.last + 1
            )
        elif kind == "text":
            proto.response_str(plan.status, plan.headers, plan.text)
        else:
            proto.response_empty(plan.status, plan.headers)

    def send_head(self, proto: RSGIHTTPProtocol, request: Request) -> None:
        """Answer HEAD with the GET headers (length included), no body."""
        plan = self._plan(request, allow_range=False)
        proto.response_empty(plan.status, plan.headers)

    def __repr__(self) -> str:
        return f"<FileResponse {self.status} {self.file_path!r}>"


def _resolved(path: str | os.PathLike[str]) -> str:
    # NOTE: absolute, not realpath: the caller chose this path (so resolving symlinks
    # protects nothing), Rust follows links when it opens the file, and realpath costs
    # ~20 µs of pure Python per response. Containment checks live in safe_path.
    return os.path.abspath(os.fspath(path))


def _requested_span(headers: Any, etag: str, mtime: float, size: int) -> tuple[int, int] | None:
    header = headers.get("range")
    if header is None or not if_range_allows(headers.get("if-range"), etag, mtime):
        return None
    return parse_range(header, size)


def content_disposition(kind: str, filename: str) -> str:
    """``attachment``/``inline`` with an ASCII ``filename`` and RFC 5987 ``filename*``."""
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable()) or "download"
    if ascii_name == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


class StreamResponse(BaseResponse):
    """Stream chunks from an async generator via ``proto.response_stream``.

    ``generator`` is an async iterable of str/bytes chunks, a callable
    returning one, or a plain iterable (which must not block). When the
    client disconnects the generator is closed — its ``finally`` blocks run —
    even while it is waiting for its next chunk, and nothing is logged.
    Not a ``Response`` (the reference gives it ``Bases: object``): it has no
    ``body`` to read or replace.
    """

    __slots__ = ("generator",)

    def __init__(
        self,
        generator: ChunkSource,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain",
    ) -> None:
        check_source(generator)
        super().__init__(status, _with_content_type(headers, content_type, content_type))
        self.generator = generator

    def send(self, proto: RSGIHTTPProtocol, request: Request) -> Awaitable[None]:
        """Start the response; the returned awaitable sends each chunk as it comes.

        It stops quietly on disconnect. The headers are checked and a chunk
        factory is called before the status goes out, so their errors can
        still be answered with a 500.
        """
        chunks = open_source(self.generator)
        transport = proto.response_stream(self.status, self.to_rsgi_headers())
        return stream_chunks(chunks, transport, proto)

    def send_head(self, proto: RSGIHTTPProtocol, request: Request) -> None:
        """Answer HEAD with the stream's headers, without running it."""
        proto.response_empty(self.status, self.to_rsgi_headers())


def redirect(location: str, status: int = 302) -> Response:
    """Answer with ``status`` (302 by default) and ``Location: location``."""
    if _unsafe(location):
        raise HeaderInjectionError("redirect location contains CR, LF or NUL")
    if not 300 <= status <= 399:
        raise ValueError(f"redirect status must be 3xx, got {status}")
    return Response("", status=status, headers={"location": location})
