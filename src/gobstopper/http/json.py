"""One shared msgspec JSON encoder and decoder for the whole framework."""

from __future__ import annotations

import decimal
from typing import Any

import msgspec


def _encode_fallback(obj: Any) -> Any:
    """Encode types msgspec does not know natively (sets, Decimals, objects).

    ``...`` encodes as null: the reference's examples use it as a placeholder
    (``{"users": [...]}``) and must run unchanged.
    """
    if obj is Ellipsis:
        return None
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if hasattr(obj, "__json__"):
        return obj.__json__()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# PERF: one encoder reused for every response; msgspec encoders are not cheap to build.
_encoder = msgspec.json.Encoder(enc_hook=_encode_fallback)
_decoder = msgspec.json.Decoder()


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as JSON bytes."""
    return _encoder.encode(obj)


def loads(data: bytes | str) -> Any:
    """Decode JSON ``data`` (raises ``msgspec.DecodeError`` when invalid)."""
    return _decoder.decode(data)
