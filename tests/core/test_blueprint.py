"""Blueprint: construction and what registering one brings to the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.testing import TestClient


def test_flask_style_import_name_is_not_a_prefix():
    bp = Blueprint("admin", __name__)
    assert bp.url_prefix is None
    assert Blueprint("api", url_prefix="/api").url_prefix == "/api"
    assert repr(bp) == "<Blueprint 'admin' prefix=None>"


@pytest.mark.parametrize("name", ["", "a.b"])
def test_invalid_blueprint_names(name):
    with pytest.raises(ValueError):
        Blueprint(name)


def test_blueprint_decorators_return_the_function_and_record_routes():
    bp = Blueprint("shop", url_prefix="/shop")

    async def listing(request):
        return []

    for decorator in ("get", "post", "put", "delete", "patch", "options"):
        assert getattr(bp, decorator)(f"/{decorator}")(listing) is listing
    assert bp.route("/any", methods=["GET", "POST"])(listing) is listing
    assert [spec.rule for spec in bp._routes if spec.handler is listing] == [
        "/get",
        "/post",
        "/put",
        "/delete",
        "/patch",
        "/options",
        "/any",
    ]


def test_blueprint_template_folders_are_searched_after_the_apps(tmp_path: Path):
    app_templates = tmp_path / "templates"
    bp_templates = tmp_path / "bp_templates"
    app_templates.mkdir()
    bp_templates.mkdir()
    (app_templates / "shared.html").write_text("app version")
    (bp_templates / "shared.html").write_text("blueprint version")
    (bp_templates / "only_bp.html").write_text("hello {{ name }}")
    app = Gobstopper("templates")
    bp = Blueprint("pages", url_prefix="/pages", template_folder=str(bp_templates))

    @bp.get("/only")
    async def only(request):
        return await app.render_template("only_bp.html", name="bp")

    @bp.get("/shared")
    async def shared(request):
        return await app.render_template("shared.html")

    app.register_blueprint(bp)
    app.init_templates(str(app_templates), use_rust=False)
    with TestClient(app) as client:
        assert client.get("/pages/only").text == "hello bp"
        assert client.get("/pages/shared").text == "app version"
