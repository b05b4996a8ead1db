"""Finish a streamed response; abort its connection if it fails after it started.

Granian's RSGI stream transport has no abort: its body is a channel that
ends cleanly, with the final zero-length chunk, when the transport object is
freed, whether the handler returned or raised (checked against Granian 2.8.9;
``send_bytes``/``send_str`` are its only methods). A client would take the
truncated body for a complete one. So the connection's socket is looked up
among this worker's open descriptors by its two addresses (the scope's
``client`` and ``server``) and shut down: Granian sees a dropped client, and
the client sees the connection close without the final chunk (RFC 9112
§7.1), as uvicorn and hypercorn close it.

Chunks already handed to Granian are written by its own threads a moment
later; the abort waits ``FLUSH_GRACE`` seconds first so they still reach the
client (as uvicorn flushes its buffer before closing).

It works for HTTP/1.x over TCP where ``/proc/self/fd`` or ``/dev/fd`` lists
the descriptors (Linux, macOS). HTTP/2 carries other requests on the same
connection, so there (and over Unix sockets) the stream just ends.

NOTE: safe against descriptor reuse: while the caller holds the failed
stream's transport its connection stays open, so no other live socket can
have the same pair of addresses, and the descriptors are never closed here.
PERF: runs only when a stream fails; one pass over the worker's descriptors.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gobstopper.rsgi_types import RSGIScope

logger = logging.getLogger("gobstopper.dispatch")

_HTTP1 = frozenset({"1", "1.0", "1.1"})
_FD_DIRS = ("/proc/self/fd", "/dev/fd")
#: Seconds given to Granian to write the chunks sent before the failure.
FLUSH_GRACE = 0.05


async def finish_stream(pending: Awaitable[None], scope: RSGIScope) -> None:
    """Await the streaming of a body; if it fails, log once and abort the connection.

    The status and headers are out, so the only honest signal left is to
    close the connection without the final chunk (RFC 9112 §7.1): the client
    then sees an incomplete response instead of a complete-looking one.
    """
    try:
        await pending
    except Exception as exc:
        logger.error(
            "streaming response failed after it started; aborting the connection", exc_info=exc
        )
        await abort_connection(scope)
        # The traceback's frames hold the stream transport; Granian ends the response
        # when it is freed, so free it now rather than at the next garbage collection.
        traceback.clear_frames(exc.__traceback__)


async def abort_connection(scope: RSGIScope, grace: float = FLUSH_GRACE) -> bool:
    """Shut down the TCP connection ``scope`` arrived on; False if not found.

    A scope with ``abort_stream()`` (the ASGI adapter's) is asked to do it.
    """
    abort = getattr(scope, "abort_stream", None)
    if abort is not None:
        return bool(abort())
    if getattr(scope, "http_version", None) not in _HTTP1:
        return False
    client = _address(getattr(scope, "client", None))
    server = _address(getattr(scope, "server", None))
    if client is None or server is None:
        return False
    # PERF: lazy — asyncio costs ~35 ms at import; a server has loaded it already.
    import asyncio

    await asyncio.sleep(grace)
    for fd in _descriptors():
        if _shut_down_if_connected(fd, client, server):
            return True
    return False


def _address(text: str | None) -> tuple[str, int] | None:
    """``'1.2.3.4:80'`` / ``'[::1]:80'`` → ``(host, port)``; None if not one."""
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _descriptors() -> list[int]:
    for folder in _FD_DIRS:
        try:
            return [int(name) for name in os.listdir(folder) if name.isdigit()]
        except OSError:
            continue
    return []


def _shut_down_if_connected(fd: int, client: tuple[str, int], server: tuple[str, int]) -> bool:
    """Shut ``fd`` down if it is the TCP socket from ``client`` to ``server``."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:  # not a socket, or already closed
        return False
    try:
        if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        if _same(sock.getpeername(), client) and _same(sock.getsockname(), server):
            sock.shutdown(socket.SHUT_RDWR)
            return True
        return False
    except OSError:  # a listening socket, or one closed meanwhile
        return False
    finally:
        sock.detach()  # never close a descriptor Granian owns


def _same(address: Any, expected: tuple[str, int]) -> bool:
    host: str = address[0]
    port: int = address[1]
    if host.startswith("::ffff:") and "." in host:  # IPv4-mapped on a dual-stack socket
        host = host[7:]
    return port == expected[1] and host == expected[0].removeprefix("::ffff:")
