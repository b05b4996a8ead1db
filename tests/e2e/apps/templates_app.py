"""Template rendering served by Granian, for the template end-to-end tests.

``app`` renders with Jinja2 and ``rust_app`` with minijinja. The server runs in
a temporary working directory: the folders below are found relative to this
module (the application root), which is what ``init_templates`` resolves a
relative folder against first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gobstopper import Blueprint, Gobstopper

GATE_TIMEOUT = 15.0


def create_app(use_rust: bool) -> Gobstopper:
    """An app with streamed, escaped and blueprint-backed template routes."""
    app = Gobstopper(__name__)
    app.init_templates("templates_app_templates", use_rust=use_rust)
    shop = Blueprint("shop", "/shop", template_folder="templates_app_bp_templates")
    gates: dict[str, asyncio.Event] = {}

    @app.get("/report")
    async def report(request):
        count = int(request.args.get("rows", ["10000"])[0])
        rows = [{"id": i, "name": f"row {i}"} for i in range(count)]
        return await app.render_template("report.html", stream=True, rows=rows)

    async def gated_rows(count: int, token: str, gate_at: int) -> AsyncIterator[dict]:
        for i in range(count):
            if i == gate_at:
                # Waits for the client's /release call, which the client makes only
                # after it has received the first chunk of this very response.
                gate = gates.setdefault(token, asyncio.Event())
                await asyncio.wait_for(gate.wait(), GATE_TIMEOUT)
            yield {"id": i, "name": f"row {i}"}

    @app.get("/gated-report/<token>")
    async def gated_report(request, token: str):
        rows = gated_rows(10_000, token, gate_at=2_000)
        return await app.render_template("report.html", stream=True, rows=rows)

    @app.post("/release/<token>")
    async def release(request, token: str):
        gates.setdefault(token, asyncio.Event()).set()
        return {"released": token}

    @app.get("/page")
    async def page(request):
        return await app.render_template("page.html", comment=request.args["c"][0])

    @app.get("/missing")
    async def missing(request):
        return await app.render_template("does/not/exist.html")

    @shop.get("/shared")
    async def shared(request):
        return await app.render_template("shared.html")

    @shop.get("/only")
    async def only(request):
        return await app.render_template("bp_only.html", name="<shop>")

    app.register_blueprint(shop)
    return app


app = create_app(use_rust=False)
rust_app = create_app(use_rust=True)
