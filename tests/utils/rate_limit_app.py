"""The app the @rate_limit tests drive: one route, ``/limited``, behind a limiter."""

from __future__ import annotations

from typing import Any

from gobstopper import Gobstopper
from gobstopper.utils.rate_limiter import rate_limit


def limited_app(limiter: Any, **options: Any) -> Gobstopper:
    """``GET /limited`` answers ``{"ok": true}`` when ``limiter`` (with ``options``) allows."""
    app = Gobstopper(__name__)

    @app.get("/limited")
    @rate_limit(limiter, **options)
    async def limited(request):
        return {"ok": True}

    return app
