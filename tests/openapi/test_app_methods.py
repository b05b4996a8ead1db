"""app.openapi() and app.enable_openapi(): one line, loaded only when used."""

from __future__ import annotations

import subprocess
import sys

from gobstopper import Gobstopper, Request
from gobstopper.openapi import openapi_document
from gobstopper.testing import TestClient


def test_the_app_methods_delegate_to_the_package():
    app = Gobstopper("shop")

    @app.get("/items/<int:item_id>")
    async def item(request: Request, item_id: int):
        return {}

    app.enable_openapi(path="/spec.json", docs="/ui", title="Shop", version="3")
    assert app.openapi() is openapi_document(app)
    assert app.openapi()["info"] == {"title": "Shop", "version": "3"}
    with TestClient(app) as client:
        assert client.get("/spec.json").json() == app.openapi()
        assert client.get("/ui").status_code == 200


def test_import_gobstopper_does_not_load_the_openapi_package():
    code = (
        "import sys, gobstopper; app = gobstopper.Gobstopper(); "
        "assert 'gobstopper.openapi' not in sys.modules; "
        "app.openapi(); assert 'gobstopper.openapi' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
