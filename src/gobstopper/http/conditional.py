"""Conditional and partial requests for files (RFC 9110 §13 and §14).

Validators (``ETag``, ``Last-Modified``), the 304 decision from
``If-None-Match``/``If-Modified-Since``, and one ``Range: bytes=...`` parsed
into an inclusive ``(first, last)`` pair. Parsing uses string methods only —
no regular expressions on the request path.
"""

from __future__ import annotations

import os
import time
from datetime import UTC

#: ``parse_range`` result for a syntactically valid range that misses the file (416).
UNSATISFIABLE = (-1, -1)
#: Longest number accepted in a Range header; longer ones make the header ignored.
_MAX_DIGITS = 20


def make_etag(stat: os.stat_result) -> str:
    """A strong ETag from the file's modification time and size."""
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: float) -> str:
    """``timestamp`` as an IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    # PERF: about twice as fast as email.utils.formatdate; locale-proof unlike strftime.
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an HTTP date, or ``None`` if invalid."""
    # PERF: lazy — email.utils costs ~8 ms at import; only conditional file requests need it.
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000" and asctime forms carry no zone: they are GMT
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches_weakly(header: str, etag: str) -> bool:
    """True when ``If-None-Match: header`` names ``etag`` (weak comparison) or ``*``."""
    if header.strip() == "*":
        return True
    ours = _opaque(etag)
    return any(_opaque(candidate) == ours for candidate in header.split(","))


def is_not_modified(
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    mtime: float,
) -> bool:
    """Whether a GET/HEAD with these headers may be answered with 304.

    ``If-None-Match`` wins when present (RFC 9110 §13.2.2); otherwise the
    file is unmodified if its mtime (whole seconds) is not after the date.
    """
    if if_none_match is not None:
        return etag_matches_weakly(if_none_match, etag)
    if if_modified_since is not None:
        since = parse_http_date(if_modified_since)
        return since is not None and int(mtime) <= since
    return False


def if_range_allows(if_range: str | None, etag: str, mtime: float) -> bool:
    """Whether ``If-Range`` lets the Range apply (strong match or exact date)."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and value == etag
    since = parse_http_date(value)
    return since is not None and since == int(mtime)


def _number(text: str) -> int | None:
    text = text.strip()
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as inclusive ``(first, last)`` offsets into ``size`` bytes.

    Returns ``None`` when the header should be ignored (another unit, bad
    syntax, several ranges — the full file is then sent with 200) and
    ``UNSATISFIABLE`` when the range lies outside the file (416).
    """
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return None
    if not first_text.strip():  # suffix range: the last N bytes
        suffix = _number(last_text)
        if suffix is None:
            return None
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - suffix), size - 1
    first = _number(first_text)
    last = _number(last_text) if last_text.strip() else None
    if first is None or (last is None and last_text.strip()):
        return None
    if last is not None and last < first:
        return None
    if first >= size:
        return UNSATISFIABLE
    return first, size - 1 if last is None else min(last, size - 1)
