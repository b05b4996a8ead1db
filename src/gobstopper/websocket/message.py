"""WebSocket messages, close codes and the ``ConnectionClosed`` error.

Kept apart from ``connection.py`` so the manager, the test client and the
dispatcher can share them without importing the connection class.
"""

from __future__ import annotations

from typing import Any

import msgspec

#: Message types returned by ``WebSocket.receive()``.
TEXT = "text"
BYTES = "bytes"
CLOSE = "close"

#: Close codes used by the framework itself.
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
NO_STATUS = 1005  # the peer's close frame carried no code (Granian never passes one on)
ABNORMAL_CLOSURE = 1006  # the connection dropped without a close frame
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011

#: Codes RFC 6455 lets an endpoint put in a close frame: the registered ones
#: (1004, 1005, 1006 and 1015 are reserved for reporting and never sent) and
#: 3000-4999 for libraries and applications. Unassigned 1016-2999 are refused,
#: since conforming clients (the ``websockets`` package, browsers) fail the
#: connection when they receive one.
_SENDABLE_REGISTERED = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)
MAX_REASON_BYTES = 123


def check_close(code: int, reason: str) -> None:
    """Raise ``ValueError`` unless ``code``/``reason`` may go in a close frame."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise ValueError(f"close code must be an int, got {code!r}")
    if code not in _SENDABLE_REGISTERED and not 3000 <= code <= 4999:
        raise ValueError(f"invalid close code {code}: use 1000-1003, 1007-1014 or 3000-4999")
    if not isinstance(reason, str):
        raise ValueError(f"close reason must be a str, got {type(reason).__name__}")
    if len(reason) > MAX_REASON_BYTES or len(reason.encode("utf-8")) > MAX_REASON_BYTES:
        raise ValueError(f"close reason must be at most {MAX_REASON_BYTES} UTF-8 bytes")


class ConnectionClosed(ConnectionError):
    """The WebSocket is closed: raised by a send or receive after the close.

    ``code`` is the close code (1005 when the peer sent none, 1006 when the
    connection dropped without a close) and ``reason`` its text, if known.
    It subclasses ``ConnectionError``, which the reference names for failed sends.
    """

    def __init__(self, code: int = ABNORMAL_CLOSURE, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))


class Message:
    """One received WebSocket message: ``type`` is text, bytes or close.

    ``data`` is the ``str`` of a text message, the ``bytes`` of a binary one
    and ``None`` for a close, whose ``code``/``reason`` say why.
    ``str(message)`` is the text (binary data decoded as UTF-8, a close is
    ``""``) so that ``f"Echo: {message}"`` echoes what was sent.
    """

    __slots__ = ("code", "data", "reason", "type")

    def __init__(
        self,
        type: str,
        data: str | bytes | None = None,
        *,
        code: int | None = None,
        reason: str = "",
    ) -> None:
        self.type = type
        self.data = data
        self.code = code
        self.reason = reason

    @property
    def text(self) -> str:
        """The message as text (binary data decoded as UTF-8, close as ``""``)."""
        data = self.data
        if data is None:
            return ""
        if isinstance(data, str):
            return data
        return bytes(data).decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Decode the data as JSON (``msgspec.DecodeError`` if it is not)."""
        if self.data is None:
            raise ValueError("a close message carries no JSON")
        return msgspec.json.decode(self.data)

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.type, self.data, self.code) == (other.type, other.data, other.code)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.type == CLOSE:
            return f"<Message close code={self.code}>"
        shown = self.data if len(self.data or "") <= 40 else self.data[:40]  # type: ignore[index]
        return f"<Message {self.type} {shown!r}>"
