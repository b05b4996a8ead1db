"""Read a response's ``Vary`` header as the set of header names it lists."""

from __future__ import annotations

from typing import Any


def vary_of(response: Any) -> set[str]:
    """The lower-cased names in ``response``'s ``Vary`` (a TestClient or httpx response)."""
    return {part.strip().lower() for part in response.headers.get("vary", "").split(",")}
