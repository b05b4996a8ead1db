"""Server-sent events: injection-safe framing and a streaming response.

``format_sse`` frames one event; every line break inside ``data`` (``\\r\\n``,
``\\r`` or ``\\n``) starts a new ``data:`` line, so data can never forge
another field or event, and CR/LF in ``event`` or ``id`` is a ``ValueError``.
``SSEStream`` turns an async source of events into a ``text/event-stream``
response with keep-alive comments; ``last_event_id(request)`` gives the
``Last-Event-ID`` a reconnecting browser sends, so the handler can resume.

>>> @app.get("/events")
... async def events(request):
...     start = int(last_event_id(request) or 0)
...     async def source():
...         for n in range(start, start + 100):
...             yield SSEEvent(data={"n": n}, id=str(n))
...     return SSEStream(source())
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gobstopper.http.json import dumps
from gobstopper.http.response import StreamResponse
from gobstopper.http.streaming import aclose_quietly, check_source, open_source

#: The comment sent when a stream has been quiet for ``keep_alive`` seconds.
KEEP_ALIVE_COMMENT = ": keep-alive\n\n"
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _lines(text: str) -> list[str]:
    # NOTE: not str.splitlines(): it also splits on \v, \f, \x1c, \u2028 ..., which
    # SSE treats as ordinary characters. The SSE line terminators are CRLF, CR, LF.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _field(name: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if "\r" in text or "\n" in text:
        raise ValueError(f"SSE {name} must not contain CR or LF: {text!r}")
    if name == "id" and "\x00" in text:
        raise ValueError("SSE id must not contain NUL (browsers ignore such ids)")
    return text


def _data_text(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data).decode("utf-8")
    return dumps(data).decode("utf-8")


def format_sse(
    data: Any = None,
    event: str | None = None,
    id: str | int | None = None,
    retry: int | None = None,
) -> str:
    """Frame one event: ``event:``, ``id:``, ``retry:`` and ``data:`` lines.

    ``data`` may be str, bytes (UTF-8) or anything msgspec can encode as
    JSON (dicts, lists, numbers). Raises ``ValueError`` for CR/LF in
    ``event``/``id``, a negative ``retry``, or an event with no field at all.
    """
    lines: list[str] = []
    if event is not None:
        lines.append("event: " + _field("event", event))
    if id is not None:
        lines.append("id: " + _field("id", id))
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError(f"SSE retry must be a non-negative int (ms), got {retry!r}")
        lines.append(f"retry: {retry}")
    if data is not None:
        lines.extend("data: " + line for line in _lines(_data_text(data)))
    if not lines:
        raise ValueError("an SSE event needs data, event, id or retry")
    return "\n".join(lines) + "\n\n"


def format_sse_comment(text: str = "") -> str:
    """A comment frame (ignored by browsers; useful as a heartbeat)."""
    return "".join(": " + line + "\n" for line in _lines(text)) + "\n"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event; ``str(event)`` is its framed text."""

    data: Any = None
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None

    def __str__(self) -> str:
        return format_sse(self.data, self.event, self.id, self.retry)


def last_event_id(request: Any) -> str | None:
    """The ``Last-Event-ID`` header a reconnecting EventSource sends, or ``None``."""
    value = request.headers.get("last-event-id")
    return value.strip() if value else None


def to_frame(item: Any) -> str:
    """Frame what an SSE source yields: an SSEEvent, a dict of fields, or data."""
    if isinstance(item, SSEEvent):
        return str(item)
    if isinstance(item, dict) and item.keys() <= {"data", "event", "id", "retry"}:
        return format_sse(**item)
    return format_sse(item)


class SSEStream(StreamResponse):
    """A ``text/event-stream`` response fed by an async source of events.

    ``source`` (an async iterable, or a callable returning one) yields
    ``SSEEvent`` objects, dicts with ``data``/``event``/``id``/``retry``
    keys, or plain data (str, bytes, JSON-able values). When nothing has been
    sent for ``keep_alive`` seconds a ``: keep-alive`` comment goes out, which
    keeps proxies from closing the connection and notices a departed client;
    ``keep_alive=None`` turns it off. ``retry`` (ms) is sent first when given.
    When the client leaves, the source is closed (its ``finally`` runs).
    """

    __slots__ = ("keep_alive", "retry", "source")

    def __init__(
        self,
        source: Any,
        *,
        keep_alive: float | None = 15.0,
        retry: int | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        check_source(source)
        if keep_alive is not None and keep_alive <= 0:
            raise ValueError("keep_alive must be a positive number of seconds or None")
        self.source = source
        self.keep_alive = keep_alive
        self.retry = retry
        if retry is not None:
            format_sse(retry=retry)  # validate now, not mid-stream
        super().__init__(
            self._frames,
            status,
            {**_SSE_HEADERS, **(headers or {})},
            content_type="text/event-stream",
        )

    async def _frames(self) -> AsyncIterator[str]:
        if self.retry is not None:
            yield format_sse(retry=self.retry)
        items = open_source(self.source)
        if self.keep_alive is None:
            try:
                async for item in items:
                    yield to_frame(item)
            finally:
                await aclose_quietly(items)
            return
        async for frame in _with_keep_alive(items, self.keep_alive):
            yield frame


_END = object()


async def _produce(items: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> None:
    try:
        async for item in items:
            await queue.put(to_frame(item))
    except Exception as exc:  # handed to the consumer, which re-raises it
        await queue.put(exc)
    else:
        await queue.put(_END)
    finally:
        await aclose_quietly(items)


async def _with_keep_alive(items: AsyncIterator[Any], interval: float) -> AsyncIterator[str]:
    """Frames from ``items``, with a comment after every ``interval`` of silence."""
    # The source runs in its own task so that a timeout never cancels it mid-await
    # (which would end the generator); only the queue read is timed out.
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
    producer = asyncio.ensure_future(_produce(items, queue))
    try:
        while True:
            try:
                async with asyncio.timeout(interval):
                    frame = await queue.get()
            except TimeoutError:
                yield KEEP_ALIVE_COMMENT
                continue
            if frame is _END:
                return
            if isinstance(frame, Exception):
                raise frame
            yield frame
    finally:
        producer.cancel()
        try:
            await producer
        except asyncio.CancelledError:
            pass
