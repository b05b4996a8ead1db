"""The operations e2e app: probes, metrics, JSON access log, a slow route."""

import asyncio
import logging
import os
import sys

from gobstopper import Gobstopper

app = Gobstopper(__name__)
app.enable_health()
app.enable_metrics(flush_interval=float(os.environ.get("OPS_FLUSH_INTERVAL", "1")))
handler = logging.StreamHandler(sys.stdout)
from gobstopper.ops.access_log import JsonFormatter  # noqa: E402

handler.setFormatter(JsonFormatter())
access = logging.getLogger("ops.access")
access.addHandler(handler)
access.setLevel(logging.INFO)
access.propagate = False
app.enable_access_log(access)


def _record(event: str) -> None:
    path = os.environ.get("OPS_EVENTS")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {os.getpid()}\n")


@app.on_startup
def started() -> None:
    _record("startup")


@app.readiness_check(timeout=1)
def not_in_maintenance() -> bool:
    flag = os.environ.get("OPS_MAINTENANCE_FILE")
    return not (flag and os.path.exists(flag))


@app.readiness_check(name="slow_dependency", timeout=5)
async def slow_dependency() -> bool:
    delay = float(os.environ.get("OPS_CHECK_DELAY", "0"))
    if delay:
        _record("check-start")
        await asyncio.sleep(delay)
    return True


@app.get("/users/<int:id>")
async def user(request, id):
    return {"id": id, "pid": os.getpid()}


@app.post("/users")
async def create_user(request):
    return {"created": True}, 201


@app.get("/boom")
async def boom(request):
    raise RuntimeError("boom")


@app.get("/slow")
async def slow(request):
    seconds = float(request.args.get("s", ["1"])[0])
    _record("slow-start")
    await asyncio.sleep(seconds)
    _record("slow-end")
    return "slow done"
