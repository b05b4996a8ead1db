"""The ``gobstopper tasks`` sub-commands: inspect and manage tasks.

``add_tasks_commands(subparsers)`` adds a ``tasks`` parser whose
sub-commands (list, show, retry, cancel, stats, cleanup) each set
``func``: the top-level CLI runs ``args.func(args)`` and exits with the
integer it returns (0 success, 1 failure). Every sub-command takes
``--db PATH`` (default ``wopr_tasks.duckdb``).

DuckDB lets one process open the database, so while an app with task
workers is running these commands fail with a message saying so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from . import transitions
from .models import TaskInfo, TaskStatus
from .storage import TaskStorage, TaskStorageLockedError

DEFAULT_DB = "wopr_tasks.duckdb"

Handler = Callable[[TaskStorage, argparse.Namespace], int]


def add_tasks_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tasks`` command and its sub-commands to ``subparsers``."""
    tasks = subparsers.add_parser("tasks", help="inspect and manage background tasks")
    commands = tasks.add_subparsers(dest="tasks_command", metavar="COMMAND", required=True)

    listing = _command(commands, "list", "list tasks, newest first", _list)
    listing.add_argument("--category", help="only tasks in this category")
    listing.add_argument("--status", choices=[s.value for s in TaskStatus], help="only this status")
    listing.add_argument("--limit", type=_count, default=50, help="at most N tasks (default 50)")
    listing.add_argument("--offset", type=_count, default=0, help="skip the first N tasks")

    _command(commands, "show", "show one task as JSON", _show).add_argument("id")
    _command(commands, "retry", "queue a FAILED task again", _retry).add_argument("id")
    _command(commands, "cancel", "cancel a PENDING task", _cancel).add_argument("id")
    _command(commands, "stats", "count tasks by status and category", _stats)

    cleanup = _command(commands, "cleanup", "delete old finished tasks", _cleanup)
    cleanup.add_argument("--days", type=_count, help="keep tasks finished in the last N days")
    cleanup.add_argument("--months", type=_count, help="... plus N months (30 days each)")
    cleanup.add_argument("--years", type=_count, help="... plus N years (365 days each)")


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--db", default=DEFAULT_DB, help=f"task database (default {DEFAULT_DB})")
    parser.set_defaults(func=lambda args: _run(handler, args))
    return parser


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _run(handler: Handler, args: argparse.Namespace) -> int:
    if not Path(args.db).exists():
        print(f"error: no task database at {args.db}", file=sys.stderr)
        return 1
    storage = TaskStorage(args.db)
    try:
        return handler(storage, args)
    except TaskStorageLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        storage.close()


def _list(storage: TaskStorage, args: argparse.Namespace) -> int:
    tasks = storage.get_tasks(args.category, args.status, args.limit, args.offset)
    for info in tasks:
        print(
            f"{info.id}  {info.status.value:<9}  {info.priority.name:<8}  "
            f"{info.category}/{info.name}  {info.created_at:%Y-%m-%d %H:%M:%S}"
        )
    if not tasks:
        print("no tasks")
    return 0


def _show(storage: TaskStorage, args: argparse.Namespace) -> int:
    info = storage.get_task(args.id)
    if info is None:
        return _missing(args.id)
    print(msgspec.json.format(msgspec.json.encode(info)).decode())
    return 0


def _change(
    storage: TaskStorage,
    task_id: str,
    change: Callable[[TaskInfo], bool],
    refusal: str,
    success: Callable[[TaskInfo], str],
) -> int:
    """Apply a status ``change`` to one stored task and report the outcome."""
    info = storage.get_task(task_id)
    if info is None:
        return _missing(task_id)
    if not change(info):
        print(f"error: task {task_id} is {info.status.value}; {refusal}", file=sys.stderr)
        return 1
    storage.save_task(info)
    print(success(info))
    return 0


def _retry(storage: TaskStorage, args: argparse.Namespace) -> int:
    return _change(
        storage, args.id, transitions.reset_for_retry, "only failed tasks can be retried",
        lambda info: f"task {args.id} is pending again; it runs when workers start for "
                     f"{info.category!r}",
    )


def _cancel(storage: TaskStorage, args: argparse.Namespace) -> int:
    return _change(
        storage, args.id, transitions.cancel, "only pending tasks can be cancelled",
        lambda info: f"task {args.id} cancelled",
    )


def _stats(storage: TaskStorage, args: argparse.Namespace) -> int:
    summary = storage.summarize()
    print(f"total: {summary['total']}")
    for title in ("by_status", "by_category"):
        print(f"{title}:")
        for key, count in summary[title].items():
            print(f"  {key}: {count}")
    return 0


def _cleanup(storage: TaskStorage, args: argparse.Namespace) -> int:
    if args.days is None and args.months is None and args.years is None:
        print("error: give --days, --months and/or --years", file=sys.stderr)
        return 1
    deleted = storage.cleanup_old_tasks(days=args.days, months=args.months, years=args.years)
    print(f"deleted {deleted} finished task(s)")
    return 0


def _missing(task_id: str) -> int:
    print(f"error: no task {task_id}", file=sys.stderr)
    return 1
