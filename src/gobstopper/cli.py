"""``gobstopper run|routes|tasks``: serve an app, inspect it.

``run`` uses Granian's own Python API (``granian.Granian``), never a shell-out;
any app also runs with ``granian --interface rsgi module:app`` — or, over
ASGI, ``granian --interface asgi``, ``uvicorn`` or ``hypercorn`` (``--interface asgi``
here selects Granian's ASGI interface).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import importlib.util
import math
import multiprocessing
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# Shown by --help: plain text, since argparse prints it as written.
DESCRIPTION = "Serve a Gobstopper app with Granian (RSGI), or inspect its routes and tasks."
RELOAD_INSTALL = 'pip install "gobstopper[reload]"'


class CLIError(SystemExit):
    """A command-line mistake: ``main`` prints it as one line, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(f"gobstopper: error: {message}")
        self.message = message


def load_app(target: str) -> Any:
    """Import ``module:attribute`` (attribute defaults to ``app``).

    Raises ``CLIError`` (a ``SystemExit``) with a one-line message when the
    module or attribute does not exist or is not an RSGI app.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name:
        raise CLIError(f"expected module:app, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CLIError(f"cannot import {module_name!r}: {exc}") from exc
        raise
    app: Any = module
    for part in (attribute or "app").split("."):
        app = getattr(app, part, None)
    if app is None:
        raise CLIError(f"{module_name} has no attribute {attribute or 'app'!r}")
    if not hasattr(app, "__rsgi__"):
        raise CLIError(f"{target} is not an RSGI app (no __rsgi__)")
    return app


def load_app_quietly(target: str) -> Any:
    """``load_app`` with the app's import-time logging and warnings muted.

    The inspecting commands (``routes``, ``tasks``) print only their own
    output: notices an app logs while it is configured (a missing secret key,
    say) concern serving it and are shown by ``gobstopper run``.
    """
    with _muted():
        return load_app(target)


@contextlib.contextmanager
def _muted() -> Iterator[None]:
    # NOTE: logging is imported here, not at module level: `gobstopper --help` stays light.
    import logging
    import warnings

    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def version() -> str:
    """The installed distribution's version, from its package metadata."""
    from importlib import metadata

    try:
        return metadata.version("gobstopper")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _kill_timeout() -> int:
    """Granian's backstop: kill a worker this long after asking it to stop.

    Raises ``CLIError`` for an invalid ``WOPR_SHUTDOWN_TIMEOUT``, before serving.
    """
    from gobstopper import config

    try:
        timeout = config.shutdown_timeout()
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    return max(1, min(1800, math.ceil(timeout) + 5))


def default_loop() -> str:
    """The loop ``run`` serves on when ``--loop`` is not given: uvloop when installed.

    uvloop is the production setting (``gobstopper[fast]``): it took 5-21 % off the
    server's CPU per request, by endpoint (benchmarks/RESULTS.md against
    RESULTS-asyncio.md). Granian's ``auto`` would prefer rloop, which is experimental,
    so the default names uvloop itself.
    """
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def _check_run_options(args: argparse.Namespace) -> None:
    if args.loop is None:
        args.loop = default_loop()
    if args.reload:
        _require_watchfiles()
    if args.loop in ("uvloop", "rloop") and importlib.util.find_spec(args.loop) is None:
        raise CLIError(f"--loop {args.loop} needs the {args.loop} package installed")
    if args.workers < 1 or args.threads < 1:
        raise CLIError("--workers and --threads must be at least 1")
    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be 0-65535, got {args.port}")


def _require_watchfiles() -> None:
    """Fail before serving when ``--reload``'s file watcher cannot be imported."""
    try:
        importlib.import_module("watchfiles")
    except ImportError as exc:
        raise CLIError(f"--reload needs the watchfiles package: {RELOAD_INSTALL} ({exc})") from exc


def check_port_free(host: str, port: int) -> None:
    """Raise ``CLIError`` when another server already listens on host:port.

    Granian binds with SO_REUSEPORT, so a second server on a busy port would
    start and silently share its traffic. This probe binds without it (with
    SO_REUSEADDR, so connections of a stopped server in TIME_WAIT do not
    count) and releases the port at once. Port 0 (any free port) is not probed.
    """
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CLIError(f"--host {host!r} is not a usable address: {exc.strerror}") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1 if port < 65535 else port - 1
                raise CLIError(
                    f"port {port} on {host} is already in use by another server; stop it "
                    f"or choose a free port with --port (for example --port {other})"
                ) from exc
            raise CLIError(f"cannot listen on {host} port {port}: {exc.strerror}") from exc


def _run(args: argparse.Namespace) -> int:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from gobstopper.middleware.static import granian_static_options

    _check_run_options(args)
    kill_timeout = _kill_timeout()
    check_port_free(args.host, args.port)
    target = args.target if ":" in args.target else f"{args.target}:app"
    app = load_app(target)  # fail fast, with a clear import error, before spawning workers
    if args.workers > 1:
        from gobstopper.tasks.multiprocess import refuse_duckdb_with_many_workers

        refusal = refuse_duckdb_with_many_workers(app, args.workers)
        if refusal is not None:
            raise CLIError(refusal)
    if args.reload:
        # Forked workers would inherit the app imported above, so a reload would serve the
        # old code again: spawned ones import it afresh from disk.
        multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        target,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI if args.interface == "asgi" else Interfaces.RSGI,
        workers=args.workers,
        runtime_threads=args.threads,
        loop=Loops(args.loop),
        reload=args.reload,
        log_access=args.access_log,
        workers_kill_timeout=kill_timeout,
        working_dir=Path.cwd(),
        # RustStaticMiddleware folders are served by Granian itself, never reaching Python.
        **granian_static_options(app),
    )
    server.serve()
    return 0


def _routes(args: argparse.Namespace) -> int:
    app = load_app_quietly(args.target)
    print("\n".join(app.routing_report()))
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from gobstopper.openapi.cli import openapi_command

    return openapi_command(args.target)


TARGET_HELP = "the app to load, as module:attribute (the attribute defaults to app)"


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="serve module:app with Granian (RSGI)",
        description="Serve module:app with Granian's RSGI server until stopped (Ctrl+C).",
    )
    run.add_argument("target", help=TARGET_HELP)
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for every interface (default: %(default)s)",
    )
    run.add_argument(
        "--port",
        type=int,
        default=8000,
        help="TCP port; refused if another server listens on it (default: %(default)s)",
    )
    run.add_argument(
        "-w",
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own copy of the app (default: %(default)s)",
    )
    run.add_argument(
        "--threads",
        type=int,
        default=1,
        help="Granian runtime threads per worker (default: %(default)s)",
    )
    run.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop", "rloop"],
        default=None,
        help="event loop (default: uvloop when installed, as with gobstopper[fast], else "
        "asyncio); auto is Granian's choice: rloop, then uvloop, then asyncio",
    )
    run.add_argument(
        "--reload",
        action="store_true",
        help=f"restart the server when a file changes; needs {RELOAD_INSTALL} (default: off)",
    )
    run.add_argument(
        "--interface",
        choices=["rsgi", "asgi"],
        default="rsgi",
        help="Granian interface: rsgi is the fast path; asgi sends WebSocket close codes "
        "and runs ASGI middleware (default: %(default)s)",
    )
    run.add_argument(
        "--access-log", action="store_true", help="log one line per request (default: off)"
    )
    run.set_defaults(func=_run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="gobstopper", description=DESCRIPTION)
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {version()}",
        help="print the installed version and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run_command(commands)

    routes = commands.add_parser(
        "routes",
        help="print the routing table of module:app",
        description="Print the routing table of module:app: mounts, blueprints, middleware "
        "and each route's middleware chain.",
    )
    routes.add_argument("target", help=TARGET_HELP)
    routes.set_defaults(func=_routes)

    openapi = commands.add_parser(
        "openapi",
        help="print the OpenAPI 3.1 document of module:app",
        description="Print the OpenAPI 3.1 document of module:app as indented JSON, for "
        "CI diffs and client generators.",
    )
    openapi.add_argument("target", help=TARGET_HELP)
    openapi.set_defaults(func=_openapi)

    from gobstopper.tasks.cli import add_tasks_commands

    add_tasks_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gobstopper`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"gobstopper: error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
