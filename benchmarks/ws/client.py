"""The load process: ``python -m benchmarks.ws.client fanout|echo --port P --server-pid PID``.

Run by ``benchmarks/ws_bench.py`` pinned to the load core, in its own process so that its
CPU time is its own. Prints the run's figures as one JSON object on stdout; exits 1 (with
the reason on stderr) if the run failed or timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from benchmarks.ws import echo, fanout
from benchmarks.ws.measure import Meter

Settings = TypeVar("Settings", fanout.FanoutSettings, echo.EchoSettings)
CLIENT_LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
"""The client's own loop: uvloop when installed, it costs the client less CPU per message."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if CLIENT_LOOP == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def _add_settings(parser: argparse.ArgumentParser, settings: type[Any]) -> None:
    for field in fields(settings):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line (the settings' fields become options)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ws.client")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, settings in (("fanout", fanout.FanoutSettings), ("echo", echo.EchoSettings)):
        command = commands.add_parser(name)
        command.add_argument("--port", type=int, required=True)
        command.add_argument("--server-pid", type=int, required=True)
        command.add_argument("--room", default="bench")
        _add_settings(command, settings)
    return parser.parse_args(argv)


def _settings(args: argparse.Namespace, settings: type[Settings]) -> Settings:
    return settings(**{field.name: getattr(args, field.name) for field in fields(settings)})


async def _run(args: argparse.Namespace) -> dict[str, object]:
    meter = Meter(args.server_pid)
    if args.command == "fanout":
        return await fanout.run(args.port, args.room, _settings(args, fanout.FanoutSettings), meter)
    return await echo.run(args.port, _settings(args, echo.EchoSettings), meter)


def main(argv: list[str] | None = None) -> int:
    """Run one load and print its figures as JSON."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            figures = runner.run(_run(args))
    except (TimeoutError, OSError, RuntimeError) as exc:
        print(f"{args.command} failed: {exc!r}", file=sys.stderr)
        return 1
    figures["client_loop"] = CLIENT_LOOP
    print(json.dumps(figures))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
