"""Decode JSON request bodies with msgspec, under a nesting-depth limit.

The depth is measured on the raw bytes before decoding, without recursion,
so a body of 100,000 ``[`` costs one linear scan and a 400, never a deep
recursion in the decoder. Decoders for models are built once per model.
"""

from __future__ import annotations

import functools
from itertools import accumulate
from typing import Any

import msgspec

from gobstopper.http.validation import InvalidJSON, JSONValidationError, errors_of

# Escape pairs inside strings: an escaped backslash, then an escaped quote.
_ESCAPED_BACKSLASH = b"\\\\"
_ESCAPED_QUOTE = b'\\"'
_STRUCTURE_ONLY = bytes(b for b in range(256) if b not in b'"[]{}')
_TO_PARENS = bytes.maketrans(b"[{]}", b"(())")
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("(")] = 1
_DEPTH_STEP[ord(")")] = -1
_WINDOW = 64 * 1024


def _outside_strings(tokens: bytes) -> bytes:
    """Drop what lies between quote pairs, window by window (bounded memory)."""
    kept: list[bytes] = []
    inside = False
    for start in range(0, len(tokens), _WINDOW):
        parts = tokens[start : start + _WINDOW].split(b'"')
        kept.append(b"".join(parts[1::2] if inside else parts[0::2]))
        inside ^= len(parts) % 2 == 0
    return b"".join(kept)


def _prefix_depth_exceeds(parens: bytes, limit: int) -> bool:
    """Does a running sum of ``(`` +1 / ``)`` -1 ever pass ``limit``?"""
    step = _DEPTH_STEP.__getitem__
    depth = 0
    for start in range(0, len(parens), _WINDOW):
        levels = list(accumulate(map(step, parens[start : start + _WINDOW]), initial=depth))
        if max(levels) > limit:
            return True
        depth = levels[-1]
    return False


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """True when arrays/objects in ``body`` nest deeper than ``limit``.

    Brackets inside strings do not count. Iterative and linear: invalid
    JSON may be misjudged, but the decoder rejects it anyway.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # PERF: most bodies stop after two C-level counts.
    if b"\\" in body:
        body = body.replace(_ESCAPED_BACKSLASH, b"").replace(_ESCAPED_QUOTE, b"")
    # Quotes and brackets only; then drop bracket-free strings (``""``):
    # removing a pair of quotes keeps the parity of every later quote.
    tokens = body.translate(None, _STRUCTURE_ONLY).replace(b'""', b"")
    if b'"' in tokens:  # some strings hold brackets
        tokens = _outside_strings(tokens)
    parens = tokens.translate(_TO_PARENS)
    # Each pass removes every innermost pair, i.e. one level of nesting.
    # PERF: passes cost ~2 ns/byte, the prefix sum ~36 ns/byte; peeling only
    # while a pass removes a quarter keeps all passes under ~4 body lengths.
    peeled = 0
    while parens and peeled <= limit:
        shorter = parens.replace(b"()", b"")
        if len(shorter) * 4 > len(parens) * 3:
            break
        parens = shorter
        peeled += 1
    return peeled > limit or _prefix_depth_exceeds(parens, limit - peeled)


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
        raise InvalidJSON(
            "Invalid JSON: not valid UTF-8", [{"loc": ["body"], "msg": "not valid UTF-8"}]
        ) from exc
    except RecursionError as exc:
        raise InvalidJSON(
            "Invalid JSON: nested too deeply", [{"loc": ["body"], "msg": "nested too deeply"}]
        ) from exc
