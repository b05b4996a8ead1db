"""``gobstopper run|routes|tasks``: serve an app with Granian, inspect it.

``run`` uses Granian's own Python API (``granian.Granian``), never a shell-out;
any app also runs with ``granian --interface rsgi module:app``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any


def load_app(target: str) -> Any:
    """Import ``module:attribute`` (attribute defaults to ``app``)."""
    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute or "app")
    except AttributeError as exc:
        raise SystemExit(f"{module_name} has no attribute {attribute or 'app'!r}") from exc


def _run(args: argparse.Namespace) -> int:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    target = args.target if ":" in args.target else f"{args.target}:app"
    load_app(target)  # fail fast, with a clear import error, before spawning workers
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
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
