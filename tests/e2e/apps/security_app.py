"""A login flow behind SecurityMiddleware: form, CSRF token, signed session cookie.

Served by Granian in tests/e2e/test_security.py. Sessions are files in
``$SESSION_DIR``; the secret comes from ``$SECRET_KEY`` as in production.
"""

from __future__ import annotations

import os
from pathlib import Path

from gobstopper import Gobstopper, Response
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions.storage import FileSessionStorage

USERS = {"alice": "wonderland"}

security = SecurityMiddleware(
    secret_key=os.environ["SECRET_KEY"],
    session_storage=FileSessionStorage(Path(os.environ["SESSION_DIR"])),
    cookie_secure=False,  # plain HTTP on loopback
    sign_session_id=True,
)
app = Gobstopper(__name__)
app.add_middleware(security)

FORM = """<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{token}">
<input name="username"><input name="password" type="password">
</form>"""


@app.get("/login")
async def login_form(request):
    return FORM.format(token=security.generate_csrf_token(request.session))


@app.post("/login")
async def login(request):
    form = await request.get_form()
    username = form.get("username", [""])[0]
    if USERS.get(username) != form.get("password", [""])[0]:
        return Response("bad credentials", status=401)
    await security.regenerate_session_id(request)
    request.session["user"] = username
    return {"user": username}


@app.get("/me")
async def me(request):
    return {"user": request.session.get("user"), "session_id": request.session_id}


@app.post("/logout")
async def logout(request):
    request.session.clear()
    return "bye"
