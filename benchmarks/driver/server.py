"""Start a framework's app under Granian on a free loopback port, and always stop it.

Every framework gets the same Granian options: one worker, one runtime thread, the run's
event loop (uvloop or asyncio), HTTP/1 only, warnings-only logging, and WebSockets off
(on for the WebSocket benchmark, ``benchmarks/ws``). Only ``--interface`` differs (RSGI
or ASGI), as each framework speaks one of them.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.driver.cpus import SERVER_CORE, pinned
from benchmarks.driver.paths import ROOT
from benchmarks.driver.proctree import group_members

HOST = "127.0.0.1"
GRANIAN_OPTIONS = (
    "--workers",
    "1",
    "--runtime-threads",
    "1",
    "--http",
    "1",
    "--log-level",
    "warning",
    "--no-access-log",
)
LOOPS = ("uvloop", "asyncio")
"""Event loops a run can use; uvloop first: it is the production setting."""
STARTUP_DEADLINE_S = 60.0
STOP_GRACE_S = 10.0


class ServerError(RuntimeError):
    """The server did not start, or died; the message ends with its log's tail."""


@dataclass
class Server:
    """A running Granian server: its process, port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        """Return the pid of Granian's main process."""
        return self.process.pid

    def alive(self) -> bool:
        """Tell whether Granian's main process is still running."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        """Return the last lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    """Tell whether an HTTP server answers on ``port`` (any status will do)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", "/plaintext")
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


def _wait_ready(server: Server, deadline_s: float, ready: Callable[[int], bool]) -> None:
    """Poll ``ready(port)``; raise ``ServerError`` if the server exits or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServerError(
                f"exited with code {server.process.returncode} during startup:\n"
                + server.log_tail()
            )
        if ready(server.port):
            return
        time.sleep(0.1)
    raise ServerError(f"no answer within {deadline_s:.0f} s:\n" + server.log_tail())


def _stop(server: Server) -> None:
    """Ask Granian to stop (SIGTERM), then kill whatever of its process group lingers."""
    if server.alive():
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    # NOTE: the server runs in its own session, so its group id is its main pid: a worker
    # that outlived the main process is still found, and killed, by its own pid.
    for pid in group_members(server.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def serve(
    granian: Path,
    interface: str,
    loop: str,
    target: str,
    env: dict[str, str],
    log_path: Path,
    *,
    websockets: bool = False,
    ready: Callable[[int], bool] = _answers,
) -> Iterator[Server]:
    """Run ``target`` under ``granian`` until the block ends, however it ends.

    Yields once ``ready(port)`` is true (by default: the server answers HTTP);
    raises ``ServerError`` if it never is.
    """
    port = free_port()
    command = pinned(
        [
            str(granian),
            "--interface",
            interface,
            "--host",
            HOST,
            "--port",
            str(port),
            *GRANIAN_OPTIONS,
            "--ws" if websockets else "--no-ws",
            "--loop",
            loop,
            "--working-dir",
            str(ROOT),
            target,
        ],
        SERVER_CORE,
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log_path)
    try:
        _wait_ready(server, STARTUP_DEADLINE_S, ready)
        yield server
    finally:
        _stop(server)
