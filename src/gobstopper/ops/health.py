"""Liveness and readiness probes: ``app.enable_health()``.

Liveness (``/healthz``) answers 200 while the worker's event loop runs.
Readiness (``/readyz``) answers 200 only when startup has completed, the app
is not stopping (``app.lifecycle.closing``, set at SIGTERM) and every check
registered with ``@app.readiness_check`` passes within its timeout; else 503
with a JSON body naming what failed. Checks run concurrently, sync ones in a
thread; a check that raises or times out fails.

NOTE: the dispatcher runs startup before any route, so a probe that arrives
while startup is still running waits for it; under Granian a worker serves
only after its startup, and a worker whose startup fails exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from gobstopper.awaitables import is_async_callable

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.http.response import Response

DEFAULT_CHECK_TIMEOUT = 2.0


class ReadinessCheck(NamedTuple):
    """A callable returning a bool (sync or async) and its time limit."""

    name: str
    func: Callable[[], Any]
    timeout: float


async def run_check(check: ReadinessCheck) -> bool:
    """True when the check returned truthy within its timeout."""
    func = check.func
    try:
        if is_async_callable(func):
            result = await asyncio.wait_for(func(), check.timeout)
        else:
            result = await asyncio.wait_for(asyncio.to_thread(func), check.timeout)
    except Exception:
        # A failing dependency is the expected way for a check to fail: no traceback spam.
        return False
    return bool(result)


class Health:
    """An app's probes and readiness checks."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.checks: list[ReadinessCheck] = []

    def add_check(
        self, func: Callable[[], Any], name: str | None = None, timeout: float | None = None
    ) -> None:
        """Make readiness depend on ``func()`` returning true within ``timeout`` s."""
        if not callable(func):
            raise TypeError("a readiness check must be callable with no arguments")
        limit = DEFAULT_CHECK_TIMEOUT if timeout is None else float(timeout)
        if limit <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        label = name or getattr(func, "__name__", None) or type(func).__name__
        self.checks.append(ReadinessCheck(label, func, limit))

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, details)``: what ``/readyz`` answers."""
        lifecycle = self.app.lifecycle
        if lifecycle.closing or lifecycle.closed:
            return False, {"status": "stopping"}
        if not lifecycle.started:
            return False, {"status": "starting"}
        results = await asyncio.gather(*(run_check(check) for check in self.checks))
        if lifecycle.closing:
            # SIGTERM arrived while the checks ran: this probe must not say "ready".
            return False, {"status": "stopping"}
        failed = [check.name for check, ok in zip(self.checks, results, strict=True) if not ok]
        if failed:
            return False, {"status": "unavailable", "failed": failed}
        return True, {"status": "ok"}


def health_of(app: Any) -> Health:
    """The app's ``Health`` (created on first use)."""
    health: Health | None = app.ops_health
    if health is None:
        health = app.ops_health = Health(app)
    return health


def enable_health(app: Any, live: str | None = "/healthz", ready: str | None = "/readyz") -> Health:
    """Route the liveness probe at ``live`` and readiness at ``ready`` (None: not served)."""
    from gobstopper.http.response import JSONResponse
    from gobstopper.openapi.metadata import operation
    from gobstopper.ops.observer import observer_of

    health = health_of(app)
    observer_of(app)  # X-Request-ID is echoed whenever an ops feature is on

    if live is not None:

        @operation(include_in_schema=False)
        async def liveness(request: Request) -> Response:
            return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})

        app.add_url_rule(live, liveness, ["GET"], name="health_live")

    if ready is not None:

        @operation(include_in_schema=False)
        async def readiness(request: Request) -> Response:
            ok, details = await health.readiness()
            return JSONResponse(
                details, status=200 if ok else 503, headers={"cache-control": "no-store"}
            )

        app.add_url_rule(ready, readiness, ["GET"], name="health_ready")
    return health
