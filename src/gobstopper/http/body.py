"""Reading request bodies under a size limit, and the body limits.

The body is streamed from the RSGI protocol chunk by chunk and counted, so a
client can never make us buffer more than the limit: a ``Content-Length``
above it is refused before reading, and a chunked body is cut off as soon as
it passes it.

Limits come from the request: ``request.max_body_bytes`` and
``request.max_json_depth`` (public attributes), and ``request.body_limits``
(a ``BodyLimits``) for forms and uploads. ``LimitsMiddleware`` sets them per
app, blueprint or route; otherwise the defaults below apply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, NamedTuple

from gobstopper.http.errors import BadRequest, HTTPException, RequestTooLarge

if TYPE_CHECKING:
    from gobstopper.rsgi_types import RSGIHTTPProtocol

#: Body limit when neither the app nor LimitsMiddleware sets one: 10 MiB.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
#: JSON nesting limit when ``request.max_json_depth`` is None.
DEFAULT_MAX_JSON_DEPTH = 64

FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART_FORM = "multipart/form-data"


class BodyLimits(NamedTuple):
    """Limits on form and multipart bodies (under ``max_body_bytes``).

    ``max_form_fields``: text fields (urlencoded or multipart) per body.
    ``max_files``: file parts per body. ``max_file_bytes``: bytes per file
    (None: only ``max_body_bytes``). ``max_field_bytes``: bytes per multipart
    text field. ``max_part_header_bytes``: header bytes per multipart part.
    ``max_file_memory_bytes``: a file larger than this spills to a temporary
    file on disk instead of staying in memory.

    PERF: a NamedTuple, not a frozen dataclass: ~0.5 ms less import time.
    """

    max_form_fields: int = 1000
    max_files: int = 100
    max_file_bytes: int | None = None
    max_field_bytes: int = 1024 * 1024
    max_part_header_bytes: int = 8 * 1024
    max_file_memory_bytes: int = 1024 * 1024


DEFAULT_LIMITS = BodyLimits()


def media_type(headers: dict[str, str]) -> str:
    """The Content-Type without parameters, lower-cased (``''`` if absent)."""
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def is_json_media_type(kind: str) -> bool:
    """True for ``application/json`` and ``application/*+json``."""
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def declared_length(headers: dict[str, str]) -> int | None:
    """The ``Content-Length`` as an int (``None`` if absent; 400 if bad)."""
    raw = headers.get("content-length")
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadRequest("Invalid Content-Length")
    return int(raw)


#: Sent with errors raised before the body was fully read: the connection
#: cannot be reused, so the client must not send another request on it.
CLOSE_CONNECTION = {"connection": "close"}


def too_large(limit: int) -> RequestTooLarge:
    """The ``RequestTooLarge`` raised when the body passes ``limit``."""
    return RequestTooLarge(
        f"Request body too large (limit {limit} bytes)", headers=CLOSE_CONNECTION
    )


async def iter_body(
    protocol: RSGIHTTPProtocol,
    headers: dict[str, str],
    limit: int | None,
    error: Callable[[int], HTTPException] = too_large,
) -> AsyncIterator[bytes]:
    """Yield the body's chunks; raise ``error(limit)`` once past ``limit``."""
    length = declared_length(headers)
    if limit is not None and length is not None and length > limit:
        raise error(limit)
    if length == 0:
        return
    received = 0
    async for chunk in protocol:
        received += len(chunk)
        if limit is not None and received > limit:
            raise error(limit)
        yield chunk


async def read_body(
    protocol: RSGIHTTPProtocol, headers: dict[str, str], limit: int | None
) -> bytes:
    """Read the whole body, raising ``RequestTooLarge`` past ``limit`` bytes."""
    length = declared_length(headers)
    if limit is not None and length is not None and length > limit:
        raise too_large(limit)
    if length == 0:
        return b""
    if length is not None:
        # PERF: a declared length within the limit is read in one call (Granian reads
        # it in Rust; the HTTP framing stops it at Content-Length); ~2x faster for
        # small JSON bodies than iterating chunks from Python.
        return bytes(await protocol())
    chunks: list[bytes] = []
    received = 0
    async for chunk in protocol:
        received += len(chunk)
        if limit is not None and received > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
