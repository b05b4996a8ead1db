"""Response objects: each one knows the single RSGI call that sends it.

``Response`` (str/bytes), ``JSONResponse`` (msgspec), ``FileResponse``
(``proto.response_file``: Rust reads the file) and ``StreamResponse``
(``proto.response_stream``). ``send(proto)`` performs the call; it returns
``None`` for the synchronous calls and an awaitable for streams, so the
dispatcher only awaits when it must.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gobstopper.http.cookies import build_delete_cookie, build_set_cookie
from gobstopper.http.json import dumps

Headers = list[tuple[str, str]]

_TEXT_HTML = "text/html; charset=utf-8"
_OCTET = "application/octet-stream"
_JSON = "application/json"
# Statuses that must not carry a body.
_NO_BODY = frozenset({204, 304})


def _unsafe(text: str) -> bool:
    return "\r" in text or "\n" in text or "\x00" in text


class HeaderInjectionError(ValueError):
    """A header name or value contains CR, LF or NUL."""


class BaseResponse:
    """Status, headers and cookies shared by every response kind."""

    __slots__ = ("_cookies", "headers", "status")

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self._cookies: list[str] | None = None

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
            name, value, path=path, domain=domain, max_age=max_age, expires=expires,
            secure=secure, httponly=httponly, samesite=samesite,
        )
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(cookie)

    def delete_cookie(self, name: str, path: str = "/", domain: str | None = None) -> None:
        """Expire cookie ``name``; ``path``/``domain`` must match the original."""
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(build_delete_cookie(name, path=path, domain=domain))

    def to_rsgi_headers(self) -> Headers:
        """Headers as RSGI wants them: ``(name, value)`` tuples, one per cookie.

        Raises ``HeaderInjectionError`` when a name or value has CR/LF/NUL.
        """
        items = list(self.headers.items())
        for name, value in items:
            if _unsafe(name) or _unsafe(value):
                raise HeaderInjectionError(f"header {name!r} contains CR, LF or NUL")
        if self._cookies:
            items.extend(("set-cookie", cookie) for cookie in self._cookies)
        return items

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive read of a response header."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default

    def send_head(self, proto: Any) -> None:
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
        if body is None:
            body = b""
        elif not isinstance(body, (str, bytes)):
            if isinstance(body, (bytearray, memoryview)):
                body = bytes(body)
            else:
                raise TypeError(f"Response body must be str or bytes, not {type(body).__name__}")
        self.body = body
        self.status = status
        self.headers = _with_content_type(
            headers, content_type, _TEXT_HTML if isinstance(body, str) else _OCTET
        )
        self._cookies = None

    def send(self, proto: Any) -> None:
        """Send with exactly one ``response_str``/``bytes``/``empty`` call."""
        body = self.body
        if not body and self.status in _NO_BODY:
            proto.response_empty(self.status, self.to_rsgi_headers())
        elif type(body) is str:
            proto.response_str(self.status, self.to_rsgi_headers(), body)
        else:
            proto.response_bytes(self.status, self.to_rsgi_headers(), body)

    def send_head(self, proto: Any) -> None:
        """Answer HEAD with the GET headers, including the body's length."""
        headers = self.to_rsgi_headers()
        body = self.body
        size = len(body.encode()) if isinstance(body, str) else len(body)
        if self.status not in _NO_BODY:
            headers.append(("content-length", str(size)))
        proto.response_empty(self.status, headers)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers.get('content-type', '')!r}>"


class JSONResponse(Response):
    """A response whose body is ``data`` encoded as JSON with msgspec."""

    __slots__ = ()

    def __init__(self, data: Any, status: int = 200, **kwargs: Any) -> None:
        kwargs.setdefault("content_type", _JSON)
        super().__init__(dumps(data), status, **kwargs)


class FileResponse(BaseResponse):
    """Serve a file from disk through ``proto.response_file`` (read by Rust).

    ``filename`` (default: the path's basename) is announced in
    ``Content-Disposition: attachment``. The MIME type comes from the
    extension. A missing or unreadable file answers 404.
    """

    __slots__ = ("file_path", "filename")

    def __init__(
        self,
        path: str | Path,
        filename: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.file_path = str(Path(path).resolve())
        self.filename = filename or os.path.basename(self.file_path)
        content_type = mimetypes.guess_type(self.filename)[0] or _OCTET
        super().__init__(status, _with_content_type(headers, None, content_type))
        if not any(k.lower() == "content-disposition" for k in self.headers):
            self.headers["content-disposition"] = _attachment(self.filename)

    def _readable(self) -> bool:
        return os.path.isfile(self.file_path) and os.access(self.file_path, os.R_OK)

    def send(self, proto: Any) -> None:
        """Send the file, or a plain 404 if it is gone or unreadable."""
        if not self._readable():
            proto.response_str(404, [("content-type", "text/plain; charset=utf-8")], "Not Found")
            return
        proto.response_file(self.status, self.to_rsgi_headers(), self.file_path)

    def send_head(self, proto: Any) -> None:
        """Answer HEAD with the file's headers and length, no body."""
        if not self._readable():
            proto.response_empty(404, [("content-type", "text/plain; charset=utf-8")])
            return
        headers = self.to_rsgi_headers()
        headers.append(("content-length", str(os.path.getsize(self.file_path))))
        proto.response_empty(self.status, headers)


def _attachment(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable()) or "download"
    if ascii_name == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


ChunkSource = AsyncIterable[str | bytes] | Callable[[], AsyncIterable[str | bytes]]


class StreamResponse(BaseResponse):
    """Stream chunks from an async generator via ``proto.response_stream``.

    ``generator`` is an async iterable of str/bytes chunks, or a callable
    returning one. When the client disconnects the generator is closed, so
    its ``finally`` blocks run.
    """

    __slots__ = ("generator",)

    def __init__(
        self,
        generator: ChunkSource,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain",
    ) -> None:
        super().__init__(status, _with_content_type(headers, content_type, content_type))
        self.generator = generator

    def _iterator(self) -> AsyncIterator[str | bytes]:
        source = self.generator
        if callable(source) and not hasattr(source, "__aiter__"):
            source = source()
        return aiter(source)

    async def send(self, proto: Any) -> None:
        """Send each chunk as it is produced; stop quietly on disconnect."""
        transport = proto.response_stream(self.status, self.to_rsgi_headers())
        iterator = self._iterator()
        try:
            async for chunk in iterator:
                if type(chunk) is str:
                    await transport.send_str(chunk)
                else:
                    await transport.send_bytes(chunk)
        except (RuntimeError, ConnectionError) as exc:
            # Granian raises RSGIProtocolClosed (a RuntimeError) when the peer has gone.
            if not _is_disconnect(exc):
                raise
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    def send_head(self, proto: Any) -> None:
        """Answer HEAD with the stream's headers, without running it."""
        proto.response_empty(self.status, self.to_rsgi_headers())


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError) or type(exc).__name__ in {
        "RSGIProtocolClosed", "ProtocolClosed", "ClientDisconnected",
    }


def redirect(location: str, status: int = 302) -> Response:
    """Answer with ``status`` (302 by default) and ``Location: location``."""
    if _unsafe(location):
        raise HeaderInjectionError("redirect location contains CR, LF or NUL")
    if not 300 <= status <= 399:
        raise ValueError(f"redirect status must be 3xx, got {status}")
    return Response("", status=status, headers={"location": location})
