"""The ``gobstopper tasks`` sub-commands: inspect and manage tasks.

``add_tasks_commands(subparsers)`` adds a ``tasks`` parser whose
sub-commands (list, show, retry, cancel, stats, cleanup) each set
``func``: the top-level CLI runs ``args.func(args)`` and exits with the
integer it returns (0 success, 1 failure). Every sub-command finds the
store from ``--app module:app`` (the DuckDB or SQLite file, or the Redis
server, that app's task queue is configured with), ``--redis URL`` or ``--db
PATH`` (default ``wopr_tasks.duckdb``; a SQLite file is recognised by its
header).

One process at a time may open a DuckDB or SQLite task database, so while an
app with task workers is running these commands fail with a message saying
so; a Redis store is shared, and its tasks can be changed while apps run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from .admin import cancel_stored, retry_stored
from .models import TaskInfo, TaskStatus
from .sqlite_storage import SQLiteTaskStorage
from .storage import TaskStorage, TaskStorageLockedError

DEFAULT_DB = "wopr_tasks.duckdb"
TASK_ID = "the task's id, as printed by list"
#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"

#: A sub-command: it gets a DuckDB or SQLite store, or a ``RedisTaskStorage``.
Handler = Callable[[Any, argparse.Namespace], int]


def add_tasks_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tasks`` command and its sub-commands to ``subparsers``."""
    tasks = subparsers.add_parser(
        "tasks",
        help="inspect and manage background tasks",
        description="Inspect and manage the tasks stored in an app's task store: a DuckDB "
        "or SQLite file (stop the app first: one process at a time may open it) or Redis.",
    )
    commands = tasks.add_subparsers(dest="tasks_command", metavar="COMMAND", required=True)

    listing = _command(commands, "list", "list tasks, newest first", _list)
    listing.add_argument("--category", help="only tasks in this category (default: all)")
    listing.add_argument(
        "--status",
        choices=[s.value for s in TaskStatus],
        help="only tasks in this status (default: all)",
    )
    listing.add_argument(
        "--limit", type=_count, default=50, help="at most N tasks (default: %(default)s)"
    )
    listing.add_argument(
        "--offset", type=_count, default=0, help="skip the first N tasks (default: %(default)s)"
    )

    for name, help_text, handler in (
        ("show", "show one task as JSON", _show),
        ("retry", "queue a FAILED task again", _retry),
        ("cancel", "cancel a PENDING task", _cancel),
    ):
        _command(commands, name, help_text, handler).add_argument("id", help=TASK_ID)
    _command(commands, "stats", "count tasks by status and category", _stats)

    cleanup = _command(
        commands,
        "cleanup",
        "delete finished tasks older than --days + --months + --years (give at least one)",
        _cleanup,
    )
    cleanup.add_argument("--days", type=_count, help="keep N days (default: 0)")
    cleanup.add_argument("--months", type=_count, help="plus N months of 30 days (default: 0)")
    cleanup.add_argument("--years", type=_count, help="plus N years of 365 days (default: 0)")


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--app",
        metavar="MODULE:APP",
        help="read the database this app's task queue is configured with, instead of --db "
        "(default: none)",
    )
    source.add_argument(
        "--db", default=DEFAULT_DB, metavar="PATH", help="task database file (default: %(default)s)"
    )
    source.add_argument(
        "--redis",
        metavar="URL",
        help="the Redis task store at URL, e.g. redis://127.0.0.1:6379/0 (default: none)",
    )
    parser.add_argument(
        "--prefix", default=None, help="key prefix of the Redis task store (default: the backend's)"
    )
    parser.set_defaults(func=lambda args: _run(handler, args))
    return parser


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _run(handler: Handler, args: argparse.Namespace) -> int:
    storage = _storage(args)
    if storage is None:
        return 1
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        return handler(storage, args)
    except (TaskStorageLockedError, RedisConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        storage.close()


def _storage(args: argparse.Namespace) -> Any:
    """The store the arguments name; None (after printing why) if there is none."""
    from .redis_storage import RedisTaskStorage

    if args.redis is not None:
        return _redis_storage(args.redis, args.prefix)
    if args.app is not None:
        storage = _app_storage(args.app)
        if isinstance(storage, RedisTaskStorage):
            return storage
        path = Path(storage.db_path)
        origin = f"configured by {args.app}; the app creates it when it stores its first task"
    else:
        path, origin = _database(args.db)
    if not path.exists():
        print(f"error: no task database at {path.resolve()} ({origin})", file=sys.stderr)
        return None
    return _file_store(path)


def _file_store(path: Path) -> TaskStorage | SQLiteTaskStorage:
    """Open ``path`` with SQLite if its header says so, else with DuckDB."""
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    return SQLiteTaskStorage(path) if header == SQLITE_HEADER else TaskStorage(path)


def _redis_storage(url: str, prefix: str | None) -> Any:
    from .redis_storage import RedisTaskStorage

    return RedisTaskStorage(url) if prefix is None else RedisTaskStorage(url, prefix=prefix)


def _database(db: str) -> tuple[Path, str]:
    """The database file ``--db`` names, and where its path came from (for errors)."""
    if db == DEFAULT_DB:
        return Path(db), "the default; give --db PATH, --redis URL or --app MODULE:APP"
    return Path(db), "given by --db"


def _app_storage(target: str) -> Any:
    """The storage ``target``'s task queue is configured with (built, not opened).

    The queue is switched on first (``storage_of``): ``WOPR_TASKS_ENABLED`` is
    usually set where the app runs, not in the shell running this command.
    """
    from gobstopper.cli import CLIError, load_app_quietly

    from .admin import storage_of
    from .redis_storage import RedisTaskStorage

    storage = storage_of(load_app_quietly(target).task_queue)
    if not isinstance(storage, RedisTaskStorage) and getattr(storage, "db_path", None) is None:
        raise CLIError(
            f"the task storage of {target} ({type(storage).__name__}) is neither a DuckDB "
            "file nor Redis, nor a SQLite file; gobstopper tasks reads those only"
        )
    return storage


def _list(storage: Any, args: argparse.Namespace) -> int:
    tasks = storage.get_tasks(args.category, args.status, args.limit, args.offset)
    for info in tasks:
        print(
            f"{info.id}  {info.status.value:<9}  {info.priority.name:<8}  "
            f"{info.category}/{info.name}  {info.created_at:%Y-%m-%d %H:%M:%S}"
        )
    if not tasks:
        print("no tasks")
    return 0


def _show(storage: Any, args: argparse.Namespace) -> int:
    info = storage.get_task(args.id)
    if info is None:
        return _missing(args.id)
    print(msgspec.json.format(msgspec.json.encode(info)).decode())
    return 0


def _change(
    outcome: tuple[TaskInfo | None, bool],
    task_id: str,
    refusal: str,
    success: Callable[[TaskInfo], str],
) -> int:
    """Report a status change made by ``cancel_stored``/``retry_stored``."""
    info, changed = outcome
    if info is None:
        return _missing(task_id)
    if not changed:
        print(f"error: task {task_id} is {info.status.value}; {refusal}", file=sys.stderr)
        return 1
    print(success(info))
    return 0


def _retry(storage: Any, args: argparse.Namespace) -> int:
    when = (
        "it is queued again"
        if hasattr(storage, "requeue_failed")
        else "it runs when workers start for {category!r}"
    )
    return _change(
        retry_stored(storage, args.id),
        args.id,
        "only failed tasks can be retried",
        lambda info: f"task {args.id} is pending again; " + when.format(category=info.category),
    )


def _cancel(storage: Any, args: argparse.Namespace) -> int:
    return _change(
        cancel_stored(storage, args.id),
        args.id,
        "only pending tasks can be cancelled",
        lambda info: f"task {args.id} cancelled",
    )


def _stats(storage: Any, args: argparse.Namespace) -> int:
    summary = storage.summarize()
    print(f"total: {summary['total']}")
    for title in ("by_status", "by_category"):
        print(f"{title}:")
        for key, count in summary[title].items():
            print(f"  {key}: {count}")
    return 0


def _cleanup(storage: Any, args: argparse.Namespace) -> int:
    if args.days is None and args.months is None and args.years is None:
        print("error: give --days, --months and/or --years", file=sys.stderr)
        return 1
    deleted = storage.cleanup_old_tasks(days=args.days, months=args.months, years=args.years)
    print(f"deleted {deleted} finished task(s)")
    return 0


def _missing(task_id: str) -> int:
    print(f"error: no task {task_id}", file=sys.stderr)
    return 1
