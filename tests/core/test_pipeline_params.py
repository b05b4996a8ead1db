"""Path parameters reach handlers that declare them, and only those."""

from __future__ import annotations

from gobstopper import Gobstopper
from gobstopper.testing import TestClient


def test_undeclared_path_params_stay_in_view_args():
    app = Gobstopper(__name__)

    @app.get("/a/<int:x>/<y>")
    async def only_x(request, x: int):
        return {"x": x, "view_args": {k: str(v) for k, v in request.view_args.items()}}

    @app.get("/b/<int:x>")
    def sync_none(request):
        return {"x": request.view_args["x"]}

    @app.get("/c/<int:x>/<y>")
    async def catch_all(request, **params):
        return {"params": sorted(params)}

    with TestClient(app) as client:
        assert client.get("/a/1/two").json() == {"x": 1, "view_args": {"x": "1", "y": "two"}}
        assert client.get("/b/5").json() == {"x": 5}
        assert client.get("/c/1/z").json() == {"params": ["x", "y"]}
