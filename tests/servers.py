"""Start real servers (Granian, uvicorn, redis-server) on free loopback ports for tests.

Each server runs in its own process group and is always stopped; readiness is
polled with a deadline, never slept for.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The interfaces every Gobstopper app serves; e2e server fixtures run on each.
INTERFACES = ("rsgi", "asgi")
START_DEADLINE = 30.0
ServerT = TypeVar("ServerT", bound="RunningServer")


REDIS_INSTALL = "scripts/setup.sh installs it"


def require_program(program: str, install: str) -> str:
    """The path of ``program``; skip the test when it is missing, but fail under ``CI=true``
    (CI installs every service the tests need: a missing one there is a broken setup)."""
    path = shutil.which(program)
    if path is None:
        missing_on_this_machine(f"{program} is not installed ({install})")
    return path


def missing_on_this_machine(message: str) -> NoReturn:
    """Skip the test for something this machine lacks, but fail under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    """Poll until ``port`` accepts connections; fail if the process dies or time runs out."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"server on port {port} not ready after {deadline}s")


@dataclass
class RunningServer:
    """A started server: its URL, port and process."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    #: The interface the app is served over: "rsgi" or "asgi".
    interface: str = "rsgi"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the server's process group and wait; kill it if it will not stop."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode


def granian_command(target: str, port: int, *extra: str, interface: str = "rsgi") -> list[str]:
    """``granian --interface <interface>`` serving ``target`` on 127.0.0.1:``port``."""
    return [
        sys.executable, "-m", "granian", "--interface", interface,
        "--host", "127.0.0.1", "--port", str(port), *extra, target,
    ]  # fmt: skip


def run_until_exit(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, what: str = "the server"
) -> tuple[int, str]:
    """Run a server that should stop on its own; return its exit status and output.

    ``env`` is added to the test apps' environment (see ``granian_server``). Fails
    (after killing it) if it still runs after ``START_DEADLINE``: a server that keeps
    running after a failed startup is exactly the bug such tests guard against.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=_app_env(None, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=START_DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{what} kept running:\n{output.decode(errors='replace')}")
    return process.returncode, output.decode(errors="replace")


@contextmanager
def granian_server(
    target: str,
    tmp_path: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    app_dir: Path | None = None,
    interface: str = "rsgi",
) -> Iterator[RunningServer]:
    """Run ``granian --interface <interface> target`` on a free port for the ``with`` block.

    ``interface`` is ``"rsgi"`` (the default, the fast path) or ``"asgi"``.
    ``app_dir`` (default: the tests folder) is put on ``PYTHONPATH`` so that
    test app modules import by name.
    """
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {INTERFACES}, got {interface!r}")
    port = free_port()
    log_path = tmp_path / f"granian-{port}.log"
    full_env = _app_env(app_dir, env)
    command = granian_command(
        target, port, "--workers", str(workers), *extra_args, interface=interface
    )
    with _running(RunningServer, command, port, log_path, tmp_path, full_env) as server:
        server.interface = interface
        yield server


@contextmanager
def _running(
    kind: type[ServerT],
    command: list[str],
    port: int,
    log_path: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> Iterator[ServerT]:
    """Start ``command`` in its own process group, wait for ``port``, always stop it."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(cwd),
            start_new_session=True,
        )
    server = kind(port, process, log_path)
    try:
        wait_for_port(port, process, START_DEADLINE)
        yield server
    finally:
        server.stop()


def _app_env(app_dir: Path | None, env: dict[str, str] | None) -> dict[str, str]:
    search = [str(app_dir or ROOT / "tests" / "e2e" / "apps"), str(ROOT / "src")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(search), **(env or {})}


#: Third-party ASGI servers the smoke tests run the same apps under.
ASGI_SERVERS = ("uvicorn", "hypercorn")


@contextmanager
def asgi_server(
    server: str,
    target: str,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    app_dir: Path | None = None,
) -> Iterator[RunningServer]:
    """Run ``uvicorn``/``hypercorn target`` (the app's ASGI entry) on a free port."""
    port = free_port()
    log_path = tmp_path / f"{server}-{port}.log"
    command = asgi_server_command(server, target, port)
    with _running(RunningServer, command, port, log_path, tmp_path, _app_env(app_dir, env)) as srv:
        srv.interface = "asgi"
        yield srv


def asgi_server_command(server: str, target: str, port: int) -> list[str]:
    """The command line ``asgi_server`` runs (for tests that expect it to exit)."""
    if server not in ASGI_SERVERS:
        raise ValueError(f"server must be one of {ASGI_SERVERS}, got {server!r}")
    if server == "uvicorn":
        options = ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"]
    else:
        options = ["--bind", f"127.0.0.1:{port}"]
    return [sys.executable, "-m", server, *options, target]


@dataclass
class RunningRedis(RunningServer):
    """A started redis-server; ``url`` is its ``redis://`` address."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[RunningRedis]:
    """Run a throwaway ``redis-server`` (no persistence) on a free port for the ``with`` block.

    Needs ``redis-server`` on PATH (``scripts/setup.sh`` installs it).
    """
    port = free_port()
    log_path = tmp_path / f"redis-{port}.log"
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    with _running(RunningRedis, command, port, log_path, tmp_path) as server:
        yield server
