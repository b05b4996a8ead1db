"""Startup once, in-flight accounting, and graceful shutdown.

Startup hooks run once before the first request (or from Granian's
``__rsgi_init__``), under a lock; if one fails, startup is retried on the
next request. Shutdown refuses new requests (503), waits for in-flight ones up
to a timeout (``WOPR_SHUTDOWN_TIMEOUT``, default 10 s), then runs shutdown
hooks — even when the wait timed out — logging and continuing past failures.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from gobstopper import config

logger = logging.getLogger("gobstopper.lifecycle")


class Lifecycle:
    """Startup/shutdown hooks and the in-flight request counter."""

    def __init__(self) -> None:
        self.startup_hooks: list[Callable[[], Any]] = []
        self.shutdown_hooks: list[Callable[[], Any]] = []
        self.started = False
        self.closing = False
        self.closed = False
        self.in_flight = 0
        self._lock: asyncio.Lock | None = None
        self._idle: asyncio.Event | None = None

    async def startup(self) -> None:
        """Run startup hooks once; concurrent callers wait for the first."""
        if self.started:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.started:
                return
            for hook in self.startup_hooks:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            self.started = True

    def enter(self) -> None:
        """Count a request in."""
        self.in_flight += 1

    def leave(self) -> None:
        """Count a request out; wake the shutdown waiter when the last one ends."""
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        if self.in_flight == 0:
            return True
        self._idle = asyncio.Event()
        deadline = time.monotonic() + timeout
        while self.in_flight > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), remaining)
            except TimeoutError:
                return False
            self._idle.clear()
        return True

    async def shutdown(self, timeout: float | None, extra: list[Callable[[], Any]]) -> None:
        """Refuse new work, drain, then run hooks and ``extra`` cleanups in order."""
        if self.closed:
            return
        self.closing = True
        wait = config.shutdown_timeout() if timeout is None else timeout
        if not await self.drain(wait):
            logger.warning("shutdown: %d request(s) still running after %.1fs; continuing",
                           self.in_flight, wait)
        for hook in [*self.shutdown_hooks, *extra]:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("shutdown hook %r failed", getattr(hook, "__name__", hook))
        self.closed = True
