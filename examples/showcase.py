"""The showcase app: one file touring Gobstopper's batteries on embedded defaults.

Run it with ``bash scripts/showcase.sh`` (or ``gobstopper run examples.showcase:app``)
and open http://127.0.0.1:8000/. Nothing needs to be started by hand: templates
render from ``showcase_templates/``, static files come from ``showcase_static/``
and background tasks persist to a DuckDB file in the working directory.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from gobstopper import Blueprint, Gobstopper, Request, Response, StreamResponse
from gobstopper.http.errors import abort
from gobstopper.middleware import CORSMiddleware, SecurityMiddleware
from gobstopper.tasks import TaskQueue, TaskStorage
from gobstopper.utils.idempotency import use_idempotency
from gobstopper.utils.rate_limiter import TokenBucketLimiter, rate_limit

HERE = Path(__file__).resolve().parent

app = Gobstopper(__name__)
# Tasks persist to DuckDB in the working directory (SHOWCASE_TASKS_DB overrides the file).
TASKS_DB = os.environ.get("SHOWCASE_TASKS_DB", "showcase_tasks.duckdb")
app.task_queue = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(TASKS_DB))
app.init_templates(str(HERE / "showcase_templates"))


class NewNote(msgspec.Struct):
    """A note posted to the JSON API."""

    title: str
    body: str = ""


class CountRequest(msgspec.Struct):
    """The body of ``POST /api/tasks/count``: a typed parameter, validated (422) before the call."""

    text: str


class Note(msgspec.Struct):
    """A stored note, as the API returns it."""

    id: int
    title: str
    body: str


class TaskQueued(msgspec.Struct):
    """The answer to ``POST /api/tasks/count``: the id to poll."""

    task_id: str


NOTES: dict[int, dict[str, object]] = {}


async def timing_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response | StreamResponse]]
) -> Response | StreamResponse:
    """Add the server-side handling time to every response."""
    started = time.perf_counter()
    response = await call_next(request)
    response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


app.add_middleware(timing_middleware, priority=100)
# A front end on another origin (SHOWCASE_CORS_ORIGIN) may call the JSON API from a browser.
app.add_middleware(
    CORSMiddleware(
        origins=[os.environ.get("SHOWCASE_CORS_ORIGIN", "http://localhost:3000")],
        methods=["GET", "POST"],
        headers=["Content-Type", "Idempotency-Key"],
    )
)
# Sessions, CSRF and security headers for the HTML pages (the JSON API takes no cookies).
# Plain http on 127.0.0.1, so the session cookie is not Secure unless asked for; without
# SECRET_KEY a random key is used (and a warning logged): sessions end with the process.
security = SecurityMiddleware(
    secret_key=os.environ.get("SECRET_KEY"),
    cookie_secure=os.environ.get("SHOWCASE_SECURE_COOKIES") == "1",
    cookie_samesite="Lax",
    sign_session_id=True,
    csp_policy="default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'",
)
# At most 20 notes in a burst, then 5 per second, per client address.
note_limiter = TokenBucketLimiter(rate=5, capacity=20)


@app.context_processor
def site_globals() -> dict[str, str]:
    return {"site_name": "Gobstopper showcase"}


@app.get("/", middleware=[security])
async def index(request: Request) -> Response | StreamResponse:
    session = request.session
    assert session is not None  # loaded by SecurityMiddleware (None only on routes without it)
    return await app.render_template(
        "index.html",
        notes=list(NOTES.values()),
        signatures=session.get("signed", []),
        csrf_token=security.generate_csrf_token(session),
    )


@app.post("/guestbook", middleware=[security])
async def sign_guestbook(request: Request) -> Response:
    """A classic form post: CSRF-checked by the middleware, remembered in the session."""
    session = request.session
    assert session is not None  # loaded by SecurityMiddleware
    form = await request.get_form()
    name = form.get("name", [""])[0].strip()[:40]
    if name:
        session["signed"] = [*session.get("signed", []), name][-5:]
    return Response(b"", status=303, headers={"location": "/"})


@app.get("/hello/<name>")
async def hello(request: Request, name: str) -> Response:
    return Response(f"Hello, {name}!", content_type="text/plain; charset=utf-8")


@app.get("/stream")
async def stream(request: Request) -> StreamResponse:
    async def ticks() -> AsyncIterator[str]:
        for i in range(5):
            yield f"data: tick {i}\n\n"
            await asyncio.sleep(0.2)

    return StreamResponse(ticks(), content_type="text/event-stream")


api = Blueprint("api", url_prefix="/api")


@api.get("/notes")
async def list_notes(request: Request) -> dict[str, Any]:
    return {"notes": list(NOTES.values())}


@api.post(
    "/notes",
    responses={
        201: Note,
        422: "Invalid note, or an Idempotency-Key reused for another note",
        429: "Too many notes: retry after the Retry-After header's seconds",
    },
)
@rate_limit(note_limiter)
@use_idempotency(ttl_seconds=600)
async def create_note(request: Request, note: NewNote) -> tuple[dict[str, object], int]:
    """Create a note (send an Idempotency-Key header to retry safely)."""
    note_id = len(NOTES) + 1
    NOTES[note_id] = {"id": note_id, "title": note.title, "body": note.body}
    return NOTES[note_id], 201


@api.get("/notes/<int:note_id>")
async def get_note(request: Request, note_id: int) -> dict[str, object]:
    if note_id not in NOTES:
        abort(404, "No such note")
    return NOTES[note_id]


@app.task("count_words", category="default")
async def count_words(text: str) -> dict[str, int]:
    return {"words": len(text.split())}


@api.post("/tasks/count", responses={202: TaskQueued})
async def queue_count(request: Request, body: CountRequest) -> tuple[dict[str, str], int]:
    task_id = await app.add_background_task("count_words", text=body.text)
    return {"task_id": task_id}, 202


@api.get("/tasks/<uuid:task_id>")
async def task_status(request: Request, task_id: uuid.UUID) -> dict[str, Any]:
    info = await app.task_queue.get_task_info(str(task_id))
    if info is None:
        abort(404, "No such task")
    return {"status": info.status.value, "result": info.result}


app.register_blueprint(api)
# The API describes itself: /openapi.json, and Swagger UI at /docs (assets served by the app).
app.enable_openapi(title="Gobstopper showcase", version="1.0")


@app.on_startup
async def start_workers() -> None:
    await app.start_task_workers("default", worker_count=2)
