"""Check an app's room and echo with an independent client before measuring it.

Uses the ``websockets`` package (the project's WebSocket client in tests) rather than the
benchmark's own ``wire`` client, whose every received payload is in turn compared with
what was sent during the measurement. Texts cover one-byte ASCII, multi-byte UTF-8 and
the 16- and 64-bit frame lengths. A refused handshake, a dropped connection or a text
that does not arrive within ``TIMEOUT_S`` also fails the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from benchmarks.driver.server import HOST

TEXTS = ("hello", "ünïcödé ✓ 🎉", "a" * 300, "b" * 70_000)
MEMBERS = 3
TIMEOUT_S = 5.0


class CheckFailed(AssertionError):
    """An app did not deliver or echo the exact text."""


@contextmanager
def _failing_as_check() -> Iterator[None]:
    """Turn the client's errors (refused, closed, timed out) into ``CheckFailed``."""
    try:
        yield
    except (WebSocketException, TimeoutError) as exc:
        raise CheckFailed(f"{type(exc).__name__}: {exc}") from exc


def _receive(connection: ClientConnection) -> str:
    message = connection.recv(timeout=TIMEOUT_S)
    if not isinstance(message, str):
        raise CheckFailed(f"expected a text message, got {type(message).__name__}")
    return message


def check_app(port: int, room: str) -> None:
    """Check the app's echo, then its room ``room``; raise ``CheckFailed`` on any fault."""
    with _failing_as_check():
        check_echo(port)
        check_room(port, room)


def check_room(port: int, room: str) -> None:
    """Every member must receive every text exactly, in order; the sender too.

    Members join one after another, each sending a hello and reading up to its own (the
    apps join a connection before reading from it, so it always comes back); so member
    ``i`` must then read the hellos of the members after it, and then every text.
    """
    url = f"ws://{HOST}:{port}/ws/room/{room}"
    members: list[ClientConnection] = []
    try:
        for number in range(MEMBERS):
            member = connect(url, open_timeout=TIMEOUT_S, compression=None)
            members.append(member)
            member.send(_hello(number))
            if (got := _receive(member)) != _hello(number):
                raise CheckFailed(f"member {number} got {got[:40]!r} instead of its own hello")
        for text in TEXTS:
            members[0].send(text)
        for number, member in enumerate(members):
            expected = [_hello(later) for later in range(number + 1, MEMBERS)] + list(TEXTS)
            got_all = [_receive(member) for _ in expected]
            if got_all != expected:
                raise CheckFailed(f"room member {number} received {[t[:20] for t in got_all]}")
    finally:
        for member in members:
            member.close()


def _hello(member: int) -> str:
    return f"hello from {member}"


def check_echo(port: int) -> None:
    """Every text must come back exactly."""
    with connect(f"ws://{HOST}:{port}/ws/echo", open_timeout=TIMEOUT_S, compression=None) as ws:
        for text in TEXTS:
            ws.send(text)
            if (got := _receive(ws)) != text:
                raise CheckFailed(f"echo of {text[:20]!r} came back as {got[:20]!r}")
