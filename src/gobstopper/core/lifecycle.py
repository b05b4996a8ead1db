"""Startup once, in-flight accounting, and graceful shutdown.

Startup hooks run once before the first request, under a lock; if one fails,
startup resumes from that hook on the next request. Under Granian they run
before the worker serves, where a failure stops the worker and the server
(``start_worker``). Shutdown refuses new requests (503), waits for in-flight
ones up to ``WOPR_SHUTDOWN_TIMEOUT`` (default 10 s), then runs shutdown hooks
— even when the wait timed out — logging and continuing past failures.

Under Granian, SIGTERM first makes the Rust server stop accepting and wait,
with no time limit, for every open request; only then is ``__rsgi_del__``
called. ``watch_signals`` therefore starts our side of the shutdown at the
signal itself: new requests on kept-alive connections get 503, and requests
still running when the timeout expires are cancelled so the worker can exit.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

from gobstopper import config
from gobstopper.awaitables import resolved
from gobstopper.logs import logger_named

if TYPE_CHECKING:
    import asyncio
    import logging

    from gobstopper.websocket.connection import WebSocket

#: Deepest ``await`` chain inspected when looking for request tasks.
_MAX_AWAIT_DEPTH = 256

#: A worker's exit status when startup fails: gunicorn's WORKER_BOOT_ERROR (its
#: arbiter halts instead of respawning) and uvicorn's startup-failure status.
STARTUP_FAILED_EXIT = 3


def _logger() -> logging.Logger:
    return logger_named("gobstopper.lifecycle")


class Lifecycle:
    """Startup/shutdown hooks, in-flight requests and open WebSockets."""

    def __init__(self) -> None:
        self.startup_hooks: list[Callable[[], Any]] = []
        self.shutdown_hooks: list[Callable[[], Any]] = []
        #: The framework's own startup steps (checks, readiness; sync or async),
        #: run after the user's startup hooks.
        self.startup_checks: list[Callable[[], Any]] = []
        #: Open WebSockets, closed at shutdown; here so that a recompile keeps them.
        self.websockets: set[WebSocket] = set()
        self.started = False
        self.closing = False
        self.closed = False
        self.in_flight = 0
        self._hooks_done = 0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.Event | None = None
        self._on_signal_task: asyncio.Task[Any] | None = None

    def _startup_lock(self) -> asyncio.Lock:
        # PERF: lazy — asyncio costs ~35 ms at import; startup, shutdown and signal
        # handling run inside a loop (asyncio is loaded), never per request.
        import asyncio

        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            # A lock belongs to one loop; a test client may start the app on a new one.
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    async def startup(self) -> None:
        """Run startup hooks once; concurrent callers wait for the first.

        A hook that raises leaves startup unfinished: the next call resumes
        with that hook (hooks that already succeeded are not run again).
        Calling this after a completed shutdown starts the app afresh.
        """
        if self.started:
            return
        async with self._startup_lock():
            if self.started:
                return
            if self.closed:
                self._reset()
            while self._hooks_done < len(self.startup_hooks):
                await resolved(self.startup_hooks[self._hooks_done]())
                self._hooks_done += 1
            for check in self.startup_checks:
                await resolved(check())
            self.started = True

    def start_worker(
        self, loop: asyncio.AbstractEventLoop, startup: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``startup()`` on ``loop`` as a server worker boots; stop it on failure.

        A worker whose startup failed would answer every request with 500: the
        error is logged and ``SystemExit(STARTUP_FAILED_EXIT)`` ends the worker.
        Granian then stops the server with status 1 (``--respawn-failed-workers``
        respawns it once, then stops at Granian's crash-loop check).
        """
        try:
            loop.run_until_complete(startup())
        except Exception as exc:
            _logger().critical(
                "startup failed, stopping this worker (exit status %d): %s",
                STARTUP_FAILED_EXIT,
                exc,
                exc_info=exc,
            )
            raise SystemExit(STARTUP_FAILED_EXIT) from exc

    def _reset(self) -> None:
        self.closing = False
        self.closed = False
        self._hooks_done = 0

    def leave(self) -> None:
        """Count a request out; wake the shutdown waiter when the last one ends."""
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        if self.in_flight == 0:
            return True
        import asyncio

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
        """Refuse new work, drain, then run hooks and ``extra`` cleanups."""
        if self.closed:
            return
        self.closing = True
        wait = config.shutdown_timeout() if timeout is None else timeout
        if not await self.drain(wait):
            _logger().warning(
                "shutdown: %d request(s) still running after %.1fs; continuing",
                self.in_flight,
                wait,
            )
        for hook in [*self.shutdown_hooks, *extra]:
            try:
                await resolved(hook())
            except Exception:
                _logger().exception("shutdown hook %r failed", getattr(hook, "__name__", hook))
        self.closed = True
        self.started = False

    # -- cooperation with the server's signals ----------------------------------
    def watch_signals(
        self,
        loop: asyncio.AbstractEventLoop,
        entry: CodeType,
        on_signal: Callable[[], Awaitable[Any]] | None = None,
    ) -> bool:
        """Start shutting down as soon as SIGTERM/SIGINT reach this worker.

        The server's own handlers keep running (they are chained). At the
        signal ``on_signal()`` is started (the app closes its WebSockets,
        which would otherwise hold the server open); when the shutdown
        timeout passes, tasks still running ``entry`` (the app's
        ``__rsgi__``) are cancelled. Returns False, changing nothing, when
        signals cannot be watched here (not the main thread, or the server
        installed no Python-level handler).
        """
        import signal  # ~1 ms of enum building; only a served worker watches signals
        import threading

        if threading.current_thread() is not threading.main_thread():
            return False

        stop_signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.getsignal(sig) for sig in stop_signals}
        if not all(callable(handler) for handler in previous.values()):
            return False

        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self._signalled, loop, entry, on_signal)
            chained = previous[signal.Signals(signum)]
            if callable(chained):
                chained(signum, frame)

        for sig in stop_signals:
            signal.signal(sig, handler)
        return True

    def _signalled(
        self,
        loop: asyncio.AbstractEventLoop,
        entry: CodeType,
        on_signal: Callable[[], Awaitable[Any]] | None,
    ) -> None:
        if self.closing:
            return
        self.closing = True
        timeout = config.shutdown_timeout()
        _logger().info(
            "stop signal: refusing new requests, %d in flight (timeout %.1fs)",
            self.in_flight,
            timeout,
        )
        loop.call_later(timeout, self._deadline, entry)
        if on_signal is not None:
            self._on_signal_task = loop.create_task(_logged(on_signal))

    def _deadline(self, entry: CodeType) -> None:
        cancelled = cancel_tasks_running(entry)
        if cancelled:
            _logger().warning("shutdown timeout: cancelled %d unfinished request(s)", cancelled)


async def _logged(func: Callable[[], Awaitable[Any]]) -> None:
    try:
        await func()
    except Exception:
        _logger().exception("stop-signal cleanup failed")


def cancel_tasks_running(entry: CodeType) -> int:
    """Cancel the running loop's tasks whose await chain is in ``entry``."""
    import asyncio

    current = asyncio.current_task()
    count = 0
    for task in asyncio.all_tasks():
        if task is not current and _awaits_code(task.get_coro(), entry):
            task.cancel()
            count += 1
    return count


def _awaits_code(coro: Any, code: CodeType) -> bool:
    for _ in range(_MAX_AWAIT_DEPTH):
        if coro is None:
            return False
        if getattr(coro, "cr_code", None) is code:
            return True
        coro = getattr(coro, "cr_await", None)
    return False
