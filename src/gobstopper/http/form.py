"""Parse urlencoded form bodies under a limit on the number of fields."""

from __future__ import annotations

from urllib.parse import parse_qs

from gobstopper.http.errors import BodyValidationError
from gobstopper.http.validation import BodyTooLarge


def parse_urlencoded(body: bytes, max_fields: int) -> dict[str, list[str]]:
    """``{name: [values]}`` from ``body``; blank values are kept.

    More than ``max_fields`` fields raises ``BodyTooLarge`` (413) before any
    parsing; bytes that are not UTF-8 (raw or percent-encoded) raise
    ``BodyValidationError`` (400) rather than being silently replaced.
    """
    if not body:
        return {}
    # PERF: parse_qs counts separators before splitting, so a body of a
    # million '&' is refused after one C-level count.
    if body.count(b"&") + 1 > max_fields:
        raise BodyTooLarge(f"Too many form fields (limit {max_fields})")
    try:
        text = body.decode("utf-8")
        return parse_qs(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except UnicodeDecodeError as exc:
        raise BodyValidationError(
            "Invalid form body: not valid UTF-8", [{"loc": ["body"], "msg": "not valid UTF-8"}]
        ) from exc
