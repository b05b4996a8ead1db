"""Reading request bodies under a size limit.

The body is streamed from the RSGI protocol chunk by chunk and counted, so a
client can never make us buffer more than the limit: a ``Content-Length``
above it is refused before reading, and a chunked body is cut off as soon as
it passes it.
"""

from __future__ import annotations

from typing import Any

from gobstopper.http.errors import BadRequest, RequestTooLarge

#: Body limit when neither the app nor LimitsMiddleware sets one: 10 MiB.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


def declared_length(headers: dict[str, str]) -> int | None:
    """The ``Content-Length`` as an int, ``None`` if absent; 400 if malformed."""
    raw = headers.get("content-length")
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadRequest("Invalid Content-Length")
    return int(raw)


async def read_body(protocol: Any, headers: dict[str, str], limit: int | None) -> bytes:
    """Read the whole body, raising ``RequestTooLarge`` past ``limit`` bytes."""
    length = declared_length(headers)
    if limit is not None and length is not None and length > limit:
        raise RequestTooLarge(f"Request body too large (limit {limit} bytes)")
    if length == 0:
        return b""
    chunks: list[bytes] = []
    received = 0
    async for chunk in protocol:
        received += len(chunk)
        if limit is not None and received > limit:
            raise RequestTooLarge(f"Request body too large (limit {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)
