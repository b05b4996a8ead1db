"""An app for the security-hardening attacks (issue 15), served by Granian.

SecurityMiddleware and CORSMiddleware (one specific origin) wrap the whole
app; sessions are files in ``$SESSION_DIR``, or Redis at ``$REDIS_URL``.
Host policy, proxy trust and production mode come from the environment
(``GOBSTOPPER_ALLOWED_HOSTS``, ``GOBSTOPPER_TRUSTED_PROXIES``, ``ENV``).
"""

from __future__ import annotations

import os
from pathlib import Path

from gobstopper import Gobstopper, Response, StreamResponse
from gobstopper.middleware import CORSMiddleware, LimitsMiddleware
from gobstopper.middleware.security import SecurityMiddleware, SessionStorage
from gobstopper.sessions.storage import FileSessionStorage

ORIGIN = "https://app.example"


def _storage() -> SessionStorage:
    if os.environ.get("REDIS_URL"):
        from redis.asyncio import Redis

        from gobstopper.sessions.redis_storage import AsyncRedisSessionStorage

        client = Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=1)
        return AsyncRedisSessionStorage(client)
    return FileSessionStorage(Path(os.environ["SESSION_DIR"]))


security = SecurityMiddleware(
    secret_key=os.environ["SECRET_KEY"],
    session_storage=_storage(),
    cookie_secure=False,  # plain HTTP on loopback (forced on under ENV=production)
    sign_session_id=True,
)
app = Gobstopper(__name__)
app.add_middleware(CORSMiddleware(origins=[ORIGIN], allow_credentials=True), priority=10)
app.add_middleware(security)


@app.get("/token")
async def token(request):
    return security.generate_csrf_token(request.session)


@app.post("/submit")
async def submit(request):
    return "accepted"


@app.post("/login")
async def login(request):
    await security.regenerate_session_id(request)
    request.session["user"] = "alice"
    return {"token": security.generate_csrf_token(request.session)}


@app.post("/limited", middleware=[LimitsMiddleware(max_body_bytes=2000, max_form_fields=5)])
async def limited(request):
    form = await request.get_form()
    files = await request.get_files()
    return {"fields": len(form), "files": len(files)}


@app.get("/crash")
async def crash(request):
    raise RuntimeError("handler bug")


@app.get("/whoami")
async def whoami(request):
    return {"host": request.host, "url": request.url}


@app.get("/me")
async def me(request):
    return {"user": request.session.get("user")}


@app.get("/cached")
async def cached(request):
    return Response(str(request.session.get("user")), headers={"Cache-Control": "no-store"})


@app.get("/stream")
async def stream(request):
    async def chunks():
        yield b"first chunk\n"
        if request.args.get("fail"):
            raise RuntimeError("stream source failed")
        yield b"second chunk\n"

    return StreamResponse(chunks())
