"""Pump an async iterable of chunks into an RSGI stream transport.

The chunks are sent from their own task while a second task waits on
``proto.client_disconnect()``: when the client goes away the pump is
cancelled, so a generator idling between events is closed at once (its
``finally`` runs) instead of at its next send. Disconnects are normal ends,
never logged as errors; any other failure propagates to the dispatcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from gobstopper.rsgi_types import RSGIHTTPProtocol, RSGIStreamTransport

ChunkSource = (
    AsyncIterable[str | bytes]
    | Iterable[str | bytes]
    | Callable[[], AsyncIterable[str | bytes] | Iterable[str | bytes]]
)
_DISCONNECT_NAMES = frozenset({"RSGIProtocolClosed", "ProtocolClosed", "ClientDisconnected"})


def is_disconnect(exc: BaseException) -> bool:
    """True for the errors a transport raises once the client has gone."""
    return isinstance(exc, ConnectionError) or type(exc).__name__ in _DISCONNECT_NAMES


def check_source(source: Any) -> None:
    """Raise ``TypeError`` now for sources ``open_source`` could not iterate."""
    if isinstance(source, (str, bytes, bytearray)):
        raise TypeError("stream a str/bytes body with Response, or wrap it in a generator")
    if not (hasattr(source, "__aiter__") or hasattr(source, "__iter__") or callable(source)):
        raise TypeError(
            "StreamResponse needs an async generator, an iterable of str/bytes chunks "
            f"or a callable returning one, not {type(source).__name__}"
        )


async def _from_sync(items: Iterable[Any]) -> AsyncIterator[Any]:
    iterator = iter(items)
    try:
        for item in iterator:
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def open_source(source: Any) -> AsyncIterator[Any]:
    """An async iterator over ``source`` (calling it first if it is a factory)."""
    if not hasattr(source, "__aiter__") and not hasattr(source, "__iter__") and callable(source):
        source = source()
    if hasattr(source, "__aiter__"):
        return aiter(source)
    if hasattr(source, "__iter__") and not isinstance(source, (str, bytes)):
        return _from_sync(source)
    raise TypeError(f"a stream source returned {type(source).__name__}, not an iterable")


async def aclose_quietly(iterator: Any) -> None:
    """Close an async generator (running its ``finally``) if it has ``aclose``."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _pump(chunks: AsyncIterator[Any], transport: RSGIStreamTransport) -> None:
    try:
        async for chunk in chunks:
            if type(chunk) is str:
                await transport.send_str(chunk)
            elif type(chunk) is bytes:
                await transport.send_bytes(chunk)
            elif isinstance(chunk, (bytearray, memoryview)):
                await transport.send_bytes(bytes(chunk))
            else:
                raise TypeError(f"stream chunks must be str or bytes, not {type(chunk).__name__}")
    except (RuntimeError, ConnectionError) as exc:
        if not is_disconnect(exc):
            raise
    finally:
        await aclose_quietly(chunks)


def _failed(task: asyncio.Future[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


async def stream_chunks(
    chunks: AsyncIterator[Any], transport: RSGIStreamTransport, proto: RSGIHTTPProtocol
) -> None:
    """Send every chunk; stop quietly (closing ``chunks``) if the client leaves."""
    # PERF: lazy — asyncio costs ~35 ms at import; only streamed responses need it here
    # (inside a running server it is always loaded, so this is a dict lookup per stream).
    import asyncio

    watch = getattr(proto, "client_disconnect", None)
    if watch is None:
        await _pump(chunks, transport)
        return
    # NOTE: two tasks per *stream* (not per request): the pump, and the watcher that
    # cancels it on disconnect. Cancelling a task we own is safe; cancelling the
    # handler's own task would leave a pending cancellation behind.
    pump = asyncio.ensure_future(_pump(chunks, transport))
    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
        if not pump.done() and _failed(watcher):
            await pump  # the watcher broke, not the connection: keep streaming
    finally:
        watcher.cancel()
        if not pump.done():
            pump.cancel()
            try:
                await pump
            except asyncio.CancelledError:
                pass
    if not pump.cancelled():
        pump.result()
