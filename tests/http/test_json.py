"""The shared msgspec encoder/decoder."""

from __future__ import annotations

import datetime
import decimal
import uuid

import msgspec
import pytest

from gobstopper.http.json import dumps, loads


class WithJSON:
    def __json__(self):
        return {"custom": True}


def test_dumps_handles_common_types():
    assert dumps({"a": [1, 2.5, None, True]}) == b'{"a":[1,2.5,null,true]}'
    assert dumps(datetime.date(2024, 1, 2)) == b'"2024-01-02"'
    assert dumps(uuid.UUID(int=1)) == b'"00000000-0000-0000-0000-000000000001"'
    assert dumps(frozenset([1])) == b"[1]"
    assert dumps(decimal.Decimal("1.5")) == b'"1.5"'
    assert dumps(WithJSON()) == b'{"custom":true}'


def test_dumps_rejects_unknown_objects():
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps(object())


def test_loads_round_trip_and_errors():
    assert loads(b'{"a": [1, "x"]}') == {"a": [1, "x"]}
    assert loads('"text"') == "text"
    with pytest.raises(msgspec.DecodeError):
        loads(b"{not json")
