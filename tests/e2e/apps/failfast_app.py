"""Apps for the fail-fast e2e tests: each goes wrong in one way a user can hit."""

import os

from gobstopper import Gobstopper

# A startup hook that fails: the server must exit, not answer 500s.
failing = Gobstopper("failing")


@failing.on_startup
def connect() -> None:
    raise ConnectionError("db.example:5432 refused the connection")


failing.get("/")(lambda request: "never served")


# Background tasks started at startup: with WOPR_TASKS_ENABLED=1 the queue opens
# the DuckDB file in the working directory; without it the app warns at boot.
tasks_app = Gobstopper("tasks")


@tasks_app.task("echo")
async def echo(text: str) -> str:
    return text


@tasks_app.on_startup
async def start_workers() -> None:
    await tasks_app.start_task_workers("default", worker_count=1)


@tasks_app.get("/")
async def tasks_index(request):
    return {"pid": os.getpid(), "enabled": tasks_app.task_queue.enabled}


# A route registered while a WebSocket is open: shutdown must still close it.
late = Gobstopper("late")


@late.websocket("/ws")
async def echo_socket(websocket):
    await websocket.accept()
    try:
        async for message in websocket:
            await websocket.send_text(f"echo {message.data}")
    finally:
        with open(os.environ["FAILFAST_EVENTS"], "a") as events:
            events.write(f"websocket closed {websocket.close_code}\n")


@late.post("/register")
async def register(request):
    late.get("/late")(late_page)
    return "registered"


def late_page(request):
    return "late"


# A plain def that returns a coroutine: a 500 whose log says what is missing.
unawaited = Gobstopper("unawaited")


async def load() -> dict[str, bool]:
    return {"loaded": True}


@unawaited.get("/")
def forgot_await(request):
    return load()
