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
itself (no CDN). A task's page follows its progress over server-sent events.
The list covers the 1,000 most recent tasks (``TaskBackend.recent``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from gobstopper.awaitables import is_async_callable
from gobstopper.core.app import Gobstopper
from gobstopper.http.errors import Forbidden, NotFound
from gobstopper.http.response import Response, redirect
from gobstopper.http.sse import SSEEvent, SSEStream
from gobstopper.openapi.metadata import operation
from gobstopper.tasks.models import TERMINAL_STATUSES, TaskInfo, TaskPriority, TaskStatus

if TYPE_CHECKING:
    from gobstopper.http.request import Request
    from gobstopper.middleware.security import SecurityMiddleware
    from gobstopper.tasks.queue import TaskQueue

ASSETS = Path(__file__).with_name("dashboard_assets")
WINDOW = 1000
PER_PAGE = 25
#: Seconds between two looks at a task while its page follows it.
POLL_SECONDS = 0.25
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

    async def listing(self, request: Request) -> Response:
        filters = {key: _arg(request, key) for key in ("status", "category", "priority", "q")}
        recent = await self.queue.backend.recent(WINDOW) if self.queue.enabled else []
        tasks = [info for info in recent if _keep(info, filters)]
        pages = max(1, math.ceil(len(tasks) / PER_PAGE))
        page = min(max(_int(_arg(request, "page"), 1), 1), pages)
        shown = tasks[(page - 1) * PER_PAGE : page * PER_PAGE]
        kept = {key: value for key, value in filters.items() if value}
        return self.render(
            request,
            "list.html",
            tasks=shown,
            total=len(tasks),
            page=page,
            pages=pages,
            filters=filters,
            page_link=lambda n: "?" + urlencode({**kept, "page": n}),
            statuses=[status.value for status in TaskStatus],
            priorities=[p.name for p in TaskPriority],
            categories=sorted({info.category for info in tasks} | {filters["category"]} - {""}),
        )

    async def detail(self, request: Request, task_id: str) -> Response:
        info = await self.task_or_404(task_id)
        return self.render(
            request,
            "detail.html",
            task=info,
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
            state = (info.status, info.progress, info.progress_message, info.error)
            if state != last:
                last = state
                yield SSEEvent(data=_snapshot(info), event="task")
            if info.status in TERMINAL_STATUSES:
                return
            await asyncio.sleep(self.poll_seconds)
            info = await self.queue.get_task_info(task_id)


def _snapshot(info: TaskInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "status": info.status.value,
        "progress": info.progress,
        "message": info.progress_message,
        "error": info.error,
        "terminal": info.status in TERMINAL_STATUSES,
    }


def _arg(request: Request, name: str) -> str:
    values = request.args.get(name)
    return values[0].strip()[:200] if values else ""


def _int(text: str, default: int) -> int:
    return int(text) if text.isdigit() and len(text) < 9 else default


def _keep(info: TaskInfo, filters: dict[str, str]) -> bool:
    if filters["status"] and info.status.value != filters["status"]:
        return False
    if filters["category"] and info.category != filters["category"]:
        return False
    if filters["priority"] and info.priority.name != filters["priority"]:
        return False
    needle = filters["q"].lower()
    return not needle or needle in info.name.lower() or needle in info.id.lower()


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
    async def asset(request: Request, name: str) -> Response:
        if name not in assets:
            raise NotFound()
        body, content_type = assets[name]
        return Response(body, headers={"cache-control": "max-age=300"}, content_type=content_type)

    app.add_url_rule("/", listing, ["GET"], name="list")
    app.add_url_rule("/task/<task_id>", detail, ["GET"], name="detail")
    app.add_url_rule("/task/<task_id>/retry", retry, ["POST"], name="retry")
    app.add_url_rule("/task/<task_id>/cancel", cancel, ["POST"], name="cancel")
    app.add_url_rule("/task/<task_id>/events", events, ["GET"], name="events")
    app.add_url_rule("/<name>", asset, ["GET"], name="asset")
    return app
