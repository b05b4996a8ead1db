"""Decode JSON request bodies with msgspec, under a nesting-depth limit.

The depth is measured on the raw bytes before decoding, without recursion,
so a body of 100,000 ``[`` costs one linear scan and a 400, never a deep
recursion in the decoder. Decoders for models are built once per model.
"""

from __future__ import annotations

import functools
import re
from itertools import accumulate
from typing import Any

import msgspec

from gobstopper.http.validation import InvalidJSON, JSONValidationError, errors_of

# Escape pairs inside strings: an escaped backslash, then an escaped quote.
_ESCAPED_BACKSLASH = b"\\\\"
_ESCAPED_QUOTE = b'\\"'
# With escapes gone, a string is a quote, non-quotes, a quote: linear to match.
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_WINDOW = 64 * 1024


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """True when arrays/objects in ``body`` nest deeper than ``limit``.

    Brackets inside strings do not count. Invalid JSON may be misjudged,
    but the decoder rejects it anyway.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # PERF: the common case costs two C-level counts.
    unescaped = body.replace(_ESCAPED_BACKSLASH, b"").replace(_ESCAPED_QUOTE, b"")
    brackets = _STRING.sub(b"", unescaped).translate(None, _NOT_BRACKETS)
    step = _DEPTH_STEP.__getitem__
    depth = 0
    for start in range(0, len(brackets), _WINDOW):
        levels = list(accumulate(map(step, brackets[start:start + _WINDOW]), initial=depth))
        if max(levels) > limit:
            return True
        depth = levels[-1]
    return False


@functools.lru_cache(maxsize=512)
def _decoder(model: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder() if model is None else msgspec.json.Decoder(model)


def decode_json(body: bytes, model: Any = None, max_depth: int | None = None) -> Any:
    """Decode ``body`` (into ``model`` if given); ``InvalidJSON`` on failure.

    Model mismatches raise ``JSONValidationError`` whose message and
    ``errors`` name the field path (``$.items[0].name``).
    """
    if max_depth is not None and nesting_exceeds(body, max_depth):
        raise InvalidJSON(
            f"Invalid JSON: nested deeper than {max_depth} levels",
            [{"loc": ["body"], "msg": f"nested deeper than {max_depth} levels"}],
        )
    try:
        return _decoder(model).decode(body)
    except msgspec.ValidationError as exc:
        raise JSONValidationError(f"Invalid JSON body: {exc}", errors_of(exc)) from exc
    except msgspec.DecodeError as exc:
        raise InvalidJSON(f"Invalid JSON: {exc}", [{"loc": ["body"], "msg": str(exc)}]) from exc
    except UnicodeDecodeError as exc:
        raise InvalidJSON("Invalid JSON: not valid UTF-8",
                          [{"loc": ["body"], "msg": "not valid UTF-8"}]) from exc
    except RecursionError as exc:
        raise InvalidJSON("Invalid JSON: nested too deeply",
                          [{"loc": ["body"], "msg": "nested too deeply"}]) from exc
