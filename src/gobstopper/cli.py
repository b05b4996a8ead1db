"""``gobstopper run|routes|tasks``: serve an app, inspect it.

``run`` uses Granian's own Python API (``granian.Granian``), never a shell-out;
any app also runs with ``granian --interface rsgi module:app``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


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


def _kill_timeout() -> int:
    """Granian's backstop: kill a worker this long after asking it to stop."""
    from gobstopper import config

    return max(1, min(1800, math.ceil(config.shutdown_timeout()) + 5))


def _check_run_options(args: argparse.Namespace) -> None:
    if args.reload and importlib.util.find_spec("watchfiles") is None:
        raise CLIError("--reload needs the watchfiles package (pip install 'granian[reload]')")
    if args.loop in ("uvloop", "rloop") and importlib.util.find_spec(args.loop) is None:
        raise CLIError(f"--loop {args.loop} needs the {args.loop} package installed")
    if args.workers < 1 or args.threads < 1:
        raise CLIError("--workers and --threads must be at least 1")
    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be 0-65535, got {args.port}")


def _run(args: argparse.Namespace) -> int:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    _check_run_options(args)
    target = args.target if ":" in args.target else f"{args.target}:app"
    from gobstopper.middleware.static import granian_static_options

    app = load_app(target)  # fail fast, with a clear import error, before spawning workers
    server = Granian(
        target,
        address=args.host,
        port=args.port,
        interface=Interfaces.RSGI,
        workers=args.workers,
        runtime_threads=args.threads,
        loop=Loops(args.loop),
        reload=args.reload,
        log_access=args.access_log,
        workers_kill_timeout=_kill_timeout(),
        working_dir=Path.cwd(),
        # RustStaticMiddleware folders are served by Granian itself, never reaching Python.
        **granian_static_options(app),
    )
    server.serve()
    return 0


def _routes(args: argparse.Namespace) -> int:
    app = load_app(args.target)
    print("\n".join(app.routing_report()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="gobstopper", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve module:app with Granian (RSGI)")
    run.add_argument("target", help="module:app to serve")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("-w", "--workers", type=int, default=1)
    run.add_argument("--threads", type=int, default=1, help="Granian runtime threads per worker")
    run.add_argument("--loop", choices=["auto", "asyncio", "uvloop", "rloop"], default="auto")
    run.add_argument("--reload", action="store_true", help="restart on code changes")
    run.add_argument("--access-log", action="store_true")
    run.set_defaults(func=_run)

    routes = commands.add_parser("routes", help="print the routing table of module:app")
    routes.add_argument("target")
    routes.set_defaults(func=_routes)

    try:
        from gobstopper.tasks.cli import add_tasks_commands
    except ImportError:  # pragma: no cover - the tasks package is part of the distribution
        pass
    else:
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
