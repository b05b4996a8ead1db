"""Close-code validation, messages and ConnectionClosed."""

from __future__ import annotations

import msgspec
import pytest

from gobstopper.websocket import ConnectionClosed, Message
from gobstopper.websocket.message import MAX_REASON_BYTES, check_close


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1008, 1009, 1011, 1014, 3000, 4999])
def test_sendable_codes_pass(code):
    check_close(code, "")


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, -1, 0])
def test_codes_that_cannot_be_sent_are_refused(code):
    with pytest.raises(ValueError, match="close code"):
        check_close(code, "")


@pytest.mark.parametrize("code", ["1000", 1000.0, True, None])
def test_non_int_codes_are_refused(code):
    with pytest.raises(ValueError):
        check_close(code, "")


def test_reason_is_limited_to_123_utf8_bytes():
    check_close(1000, "x" * MAX_REASON_BYTES)
    check_close(1000, "é" * (MAX_REASON_BYTES // 2))  # 122 bytes
    with pytest.raises(ValueError, match="123"):
        check_close(1000, "x" * (MAX_REASON_BYTES + 1))
    with pytest.raises(ValueError, match="123"):
        check_close(1000, "é" * 62)  # 62 characters, 124 bytes
    with pytest.raises(ValueError):
        check_close(1000, b"bytes")  # type: ignore[arg-type]


def test_str_of_a_message_is_its_text():
    assert f"Echo: {Message('text', 'hi')}" == "Echo: hi"
    assert str(Message("bytes", "hé".encode())) == "hé"
    assert str(Message("bytes", b"\xff")) == "\ufffd"
    assert str(Message("close", None, code=1000)) == ""


def test_message_json_equality_and_repr():
    assert Message("text", '{"a": [1]}').json() == {"a": [1]}
    assert Message("bytes", b"[true]").json() == [True]
    with pytest.raises(msgspec.DecodeError):
        Message("text", "not json").json()
    with pytest.raises(ValueError):
        Message("close", None, code=1000).json()
    assert Message("text", "a") == Message("text", "a")
    assert Message("text", "a") != Message("bytes", b"a")
    assert "close code=1009" in repr(Message("close", code=1009))
    assert len(repr(Message("text", "y" * 1000))) < 80


def test_connection_closed_is_a_connection_error_with_code_and_reason():
    exc = ConnectionClosed(1009, "message too big")
    assert isinstance(exc, ConnectionError)
    assert (exc.code, exc.reason) == (1009, "message too big")
    assert "1009" in str(exc) and "message too big" in str(exc)
    assert ConnectionClosed().code == 1006
