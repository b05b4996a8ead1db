"""A mountable task dashboard: list, search, detail, retry, cancel, live progress.

>>> admin = tasks_dashboard(app.task_queue, authorize=lambda request: is_admin(request))
>>> app.mount("/admin/tasks", admin)

It shows every task's arguments and results and can retry and cancel them, so
it refuses to be created without ``authorize(request) -> bool`` (sync or
async; False answers 403). Pass the app's ``SecurityMiddleware`` as
``security`` to give the dashboard sessions and CSRF checks: its retry and
cancel forms then carry a token and a POST without one gets 403 (a mounted
app does not run its parent's middleware). Pages are rendered server-side
with Jinja2 from this package; the one script is served by the dashboard
itself (no CDN). Both pages are live over server-sent events: a task's page
follows its progress; the list updates the statuses and progress of the
tasks it shows and says when new tasks match its filters.

The list is filtered, counted and paged by the task store over every task it
keeps (``TaskBackend.find``): SQL stores with indexed queries, Redis with a
bounded walk (``RedisTaskStorage.find_tasks``). A bad status, priority or
page number in the URL is a 400; a page past the last shows the last.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msgspec

from gobstopper.awaitables import is_async_callable
from gobstopper.core.app import Gobstopper
from gobstopper.http.errors import BadRequest, Forbidden, NotFound
from gobstopper.http.response import Response, redirect
from gobstopper.http.sse import SSEEvent, SSEStream
from gobstopper.openapi.metadata import operation
from gobstopper.tasks.backend import TaskPage, TaskQuery
from gobstopper.tasks.models import TERMINAL_STATUSES, TaskInfo, TaskPriority, TaskStatus
from gobstopper.tasks.sql_storage import naive_utc
from gobstopper.tasks.transitions import utc_now

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.middleware.security import SecurityMiddleware
    from gobstopper.tasks.queue import TaskQueue

ASSETS = Path(__file__).with_name("dashboard_assets")
PER_PAGE = 25
#: Highest page number taken from a URL; past the last page, the last is shown.
MAX_PAGE = 1_000_000
#: Seconds between two looks at the tasks a page follows.
POLL_SECONDS = 0.25
#: New tasks a list page counts before it says "100+ new".
NEW_CAP = 100
#: How far back each look for new tasks reaches: a task is stored a moment
#: after its ``created_at`` (the commit); ids already counted are not again.
NEW_LAG = timedelta(seconds=2)
_NO_AUTH = (
    "tasks_dashboard() needs authorize=callable(request) -> bool: the dashboard shows "
    "every task's arguments and results and can retry and cancel them. Pass "
    "authorize=lambda request: True only if something in front of it authenticates."
)


class Dashboard:
    """The dashboard's pages and actions over one task queue."""

    def __init__(
        self,
        queue: TaskQueue,
        security: SecurityMiddleware | None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        import jinja2

        self.queue = queue
        self.security = security
        self.poll_seconds = poll_seconds
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(ASSETS),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, request: Request, name: str, **context: Any) -> Response:
        session = request.session
        csrf = (
            self.security.generate_csrf_token(session)
            if self.security and session is not None
            else ""
        )
        html = self.templates.get_template(name).render(
            root=request.root_path, csrf_token=csrf, **context
        )
        return Response(html, headers={"cache-control": "no-store"}, content_type="text/html")

    async def task_or_404(self, task_id: str) -> TaskInfo:
        info = await self.queue.get_task_info(task_id)
        if info is None:
            raise NotFound()
        return info

    async def find(self, query: TaskQuery) -> TaskPage:
        """Ask the task store for ``query`` (nothing while tasks are disabled)."""
        return await self.queue.backend.find(query) if self.queue.enabled else TaskPage([], 0)

    async def listing(self, request: Request) -> Response:
        query, filters = _filters(request)
        page = _page_number(request)
        since = utc_now()  # before the query: a task stored meanwhile is "new", not lost
        found = await self.find(dataclasses.replace(query, offset=(page - 1) * PER_PAGE))
        pages = max(1, math.ceil(found.total / PER_PAGE))
        if page > pages:
            page = pages
            found = await self.find(dataclasses.replace(query, offset=(page - 1) * PER_PAGE))
        kept = {key: value for key, value in filters.items() if value}
        live = [info.id for info in found.tasks if info.status not in TERMINAL_STATUSES]
        events = {**kept, "since": since.isoformat(), "ids": ",".join(live)}
        return self.render(
            request,
            "list.html",
            tasks=found.tasks,
            total=found.total,
            counted_all=found.counted_all,
            page=page,
            pages=pages,
            filters=filters,
            page_link=lambda n: "?" + urlencode({**kept, "page": n}),
            events="?" + urlencode(events),
            statuses=[status.value for status in TaskStatus],
            priorities=[p.name for p in TaskPriority],
            categories=sorted(
                {*self.queue.workers, *(info.category for info in found.tasks)} - {""}
            ),
        )

    async def list_events(self, request: Request) -> SSEStream:
        query, _ = _filters(request)
        ids = [task_id[:100] for task_id in _arg(request, "ids", 3000).split(",") if task_id]
        watch = self._watch_list(query, _since(request), ids[:PER_PAGE])
        return SSEStream(watch, keep_alive=10.0, retry=1000)

    async def _watch_list(
        self, query: TaskQuery, since: datetime, ids: list[str]
    ) -> AsyncIterator[SSEEvent]:
        """Send shown tasks' changes (``task``) and the count of new matches (``new``)."""
        last: dict[str, tuple[Any, ...]] = {}
        new: set[str] = set()
        looked_from = since
        while True:
            infos = await asyncio.gather(*(self.queue.get_task_info(task_id) for task_id in ids))
            for info in filter(None, infos):
                state = _state(info)
                if last.get(info.id) != state:
                    last[info.id] = state
                    yield SSEEvent(data=_snapshot(info), event="task")
            ids = [info.id for info in infos if info and info.status not in TERMINAL_STATUSES]
            if len(new) < NEW_CAP:
                now = utc_now()
                fresh = await self.find(
                    dataclasses.replace(query, created_after=looked_from, limit=NEW_CAP)
                )
                counted = len(new)
                new.update(info.id for info in fresh.tasks)
                if len(new) != counted:
                    count = min(len(new), NEW_CAP)
                    yield SSEEvent(data={"count": count, "more": count == NEW_CAP}, event="new")
                looked_from = max(since, now - NEW_LAG)
            await asyncio.sleep(self.poll_seconds)

    async def detail(self, request: Request, task_id: str) -> Response:
        info = await self.task_or_404(task_id)
        return self.render(
            request,
            "detail.html",
            task=info,
            live=_snapshot(info),
            done=_arg(request, "done"),
            terminal=info.status in TERMINAL_STATUSES,
        )

    async def act(self, request: Request, task_id: str, action: str) -> Response:
        await self.task_or_404(task_id)
        change = self.queue.retry_task if action == "retry" else self.queue.cancel_task
        outcome = f"{action}-ok" if await change(task_id) else f"{action}-refused"
        return redirect(f"{request.root_path}/task/{task_id}?done={outcome}", 303)

    async def events(self, request: Request, task_id: str) -> SSEStream:
        first = await self.task_or_404(task_id)
        return SSEStream(self._follow(task_id, first), keep_alive=10.0, retry=1000)

    async def _follow(self, task_id: str, info: TaskInfo | None) -> AsyncIterator[SSEEvent]:
        last: tuple[Any, ...] | None = None
        while info is not None:
            state = _state(info)
            if state != last:
                last = state
                yield SSEEvent(data=_snapshot(info), event="task")
            if info.status in TERMINAL_STATUSES:
                return
            await asyncio.sleep(self.poll_seconds)
            info = await self.queue.get_task_info(task_id)


def _state(info: TaskInfo) -> tuple[Any, ...]:
    """What a live page shows of a task: an event goes out when it changes."""
    return (
        info.status,
        info.progress,
        info.progress_message,
        info.error,
        info.retry_count,
        info.started_at,
    )


def _snapshot(info: TaskInfo) -> dict[str, Any]:
    """What the pages show of a task's changing fields, as the detail page writes them."""
    completed = info.completed_at
    finished = completed is not None
    return {
        "id": info.id,
        "status": info.status.value,
        "progress": info.progress,
        "message": info.progress_message,
        "error": info.error,
        "retries": f"{info.retry_count} of {info.max_retries}",
        "started": "" if info.started_at is None else info.started_at.isoformat(),
        "completed": "" if completed is None else completed.isoformat(),
        "elapsed": f"{info.elapsed_seconds:.3f} s" if finished else "",
        "result": _json(info.result) if finished else "",
        "terminal": info.status in TERMINAL_STATUSES,
    }


def _json(value: Any) -> str:
    # A task's result is a JSON value already (the queue round-trips it).
    return msgspec.json.encode(value).decode()


def _arg(request: Request, name: str, longest: int = 200) -> str:
    values = request.args.get(name)
    return values[0].strip()[:longest] if values else ""


def _member(request: Request, name: str, kind: type[Enum], by_value: bool) -> Any:
    """The ``kind`` member named in the query string, None if absent; 400 if unknown."""
    text = _arg(request, name)
    if not text:
        return None
    members = {(m.value if by_value else m.name): m for m in kind}
    if text not in members:
        known = ", ".join(members)
        raise BadRequest(f"unknown {name} {text!r}: one of {known}")
    return members[text]


def _filters(request: Request) -> tuple[TaskQuery, dict[str, str]]:
    """The list's query (first page) and its filters as the form shows them."""
    filters = {key: _arg(request, key) for key in ("status", "category", "priority", "q")}
    query = TaskQuery(
        status=_member(request, "status", TaskStatus, by_value=True),
        category=filters["category"] or None,
        priority=_member(request, "priority", TaskPriority, by_value=False),
        search=filters["q"],
        limit=PER_PAGE,
    )
    return query, filters


def _since(request: Request) -> datetime:
    """When the list page was made (naive UTC); now if absent; 400 if not ISO 8601."""
    text = _arg(request, "since")
    try:
        return naive_utc(datetime.fromisoformat(text)) if text else utc_now()
    except ValueError:
        raise BadRequest("since must be an ISO 8601 time") from None


def _page_number(request: Request) -> int:
    """The page asked for: 1 if absent, at most MAX_PAGE; 400 unless a whole number >= 1."""
    text = _arg(request, "page") or "1"
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise BadRequest("page must be a whole number from 1")
    return min(int(text), MAX_PAGE)


def _guard(authorize: Callable[[Any], Any]) -> Callable[[Request], Any]:
    """A before-request hook answering 403 unless ``authorize(request)`` is true."""
    if is_async_callable(authorize):

        async def check_async(request: Request) -> None:
            if not await authorize(request):
                raise Forbidden()

        return check_async

    def check(request: Request) -> None:
        if not authorize(request):
            raise Forbidden()

    return check


def tasks_dashboard(
    queue: TaskQueue,
    *,
    authorize: Callable[[Any], Any] | None = None,
    security: SecurityMiddleware | None = None,
    poll_seconds: float = POLL_SECONDS,
    name: str = "tasks_dashboard",
) -> Gobstopper:
    """The dashboard as an app to ``mount`` (see the module doc); needs ``authorize``."""
    if authorize is None or not callable(authorize):
        raise TypeError(_NO_AUTH)
    board = Dashboard(queue, security, poll_seconds)
    app = Gobstopper(name)
    if security is not None:
        app.add_middleware(security)
    app.before_request(_guard(authorize))
    assets = {
        "dashboard.js": ((ASSETS / "dashboard.js").read_bytes(), "text/javascript; charset=utf-8"),
        "dashboard.css": ((ASSETS / "dashboard.css").read_bytes(), "text/css; charset=utf-8"),
    }

    @operation(include_in_schema=False)
    async def listing(request: Request) -> Response:
        return await board.listing(request)

    @operation(include_in_schema=False)
    async def detail(request: Request, task_id: str) -> Response:
        return await board.detail(request, task_id)

    @operation(include_in_schema=False)
    async def retry(request: Request, task_id: str) -> Response:
        return await board.act(request, task_id, "retry")

    @operation(include_in_schema=False)
    async def cancel(request: Request, task_id: str) -> Response:
        return await board.act(request, task_id, "cancel")

    @operation(include_in_schema=False)
    async def events(request: Request, task_id: str) -> SSEStream:
        return await board.events(request, task_id)

    @operation(include_in_schema=False)
    async def list_events(request: Request) -> SSEStream:
        return await board.list_events(request)

    @operation(include_in_schema=False)
    async def asset(request: Request, name: str) -> Response:
        if name not in assets:
            raise NotFound()
        body, content_type = assets[name]
        return Response(body, headers={"cache-control": "max-age=300"}, content_type=content_type)

    app.add_url_rule("/", listing, ["GET"], name="list")
    app.add_url_rule("/events", list_events, ["GET"], name="list_events")
    app.add_url_rule("/task/<task_id>", detail, ["GET"], name="detail")
    app.add_url_rule("/task/<task_id>/retry", retry, ["POST"], name="retry")
    app.add_url_rule("/task/<task_id>/cancel", cancel, ["POST"], name="cancel")
    app.add_url_rule("/task/<task_id>/events", events, ["GET"], name="events")
    app.add_url_rule("/<name>", asset, ["GET"], name="asset")
    return app
