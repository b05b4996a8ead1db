"""enable_openapi(app): /openapi.json and a self-hosted Swagger UI page."""

from __future__ import annotations

import importlib.util
from typing import Any

import msgspec
import pytest

from gobstopper import Gobstopper, Request
from gobstopper.middleware import SecurityMiddleware
from gobstopper.openapi import builder, enable_openapi, openapi_document
from gobstopper.openapi.docs_page import CSP, swagger_ui_directory
from gobstopper.testing import TestClient


class Pet(msgspec.Struct):
    name: str


def pet_app(name: str = "pets") -> Gobstopper:
    app = Gobstopper(name)

    @app.get("/pets/<int:pet_id>")
    async def get_pet(request: Request, pet_id: int) -> Pet:
        return Pet("Rex")

    return app


def test_the_document_is_served_and_the_serving_routes_are_not_in_it():
    app = pet_app()
    enable_openapi(app, title="Pets", version="2.0", description="All the pets")
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == openapi_document(app)
    assert served["info"] == {"title": "Pets", "version": "2.0", "description": "All the pets"}
    assert list(served["paths"]) == ["/pets/{pet_id}"]


def test_the_document_is_built_once_on_first_request_not_per_request(
    monkeypatch: pytest.MonkeyPatch,
):
    app = pet_app()
    builds: list[int] = []
    build = builder.build_document
    monkeypatch.setattr(builder, "build_document", lambda a: builds.append(1) or build(a))
    enable_openapi(app)
    with TestClient(app) as client:
        assert client.get("/pets/1").status_code == 200
        assert builds == []
        bodies = {client.get("/openapi.json").content for _ in range(3)}
    assert len(bodies) == 1
    assert builds == [1]


def test_the_docs_page_loads_only_its_own_assets_under_a_strict_csp():
    app = pet_app('Pets & "friends"')
    enable_openapi(app, docs="/api/docs")
    with TestClient(app) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CSP
        html = page.text
        assert "<title>Pets &amp; &quot;friends&quot;</title>" in html
        assert 'data-url="/openapi.json"' in html
        assert "<script>" not in html  # no inline script: the CSP would block it
        for asset, kind in [
            ("swagger-ui.css", "text/css"),
            ("swagger-ui-bundle.js", "text/javascript"),
            ("favicon-32x32.png", "image/png"),
            ("start.js", "text/javascript"),
        ]:
            assert f'"/api/docs/{asset}"' in html
            response = client.get(f"/api/docs/{asset}")
            assert response.status_code == 200, asset
            assert response.headers["content-type"].startswith(kind)
            assert response.headers["x-content-type-options"] == "nosniff"
        assert client.get("/api/docs/swagger-editor-bundle.js").status_code == 404
        assert client.get("/api/docs/..%2Fsecret").status_code == 404
    assert "http" not in html.replace("http-equiv", "")


def test_only_the_csp_sources_the_page_needs():
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in CSP
    assert all("http" not in value for value in directives.values())


def test_a_mounted_apps_page_and_document_carry_the_mount_prefix():
    app, api = Gobstopper(), pet_app()
    enable_openapi(api)
    app.mount("/v1", api)
    with TestClient(app) as client:
        html = client.get("/v1/docs").text
        assert 'data-url="/v1/openapi.json"' in html
        assert '"/v1/docs/swagger-ui-bundle.js"' in html
        document = client.get("/v1/openapi.json").json()
    assert document["servers"] == [{"url": "/v1"}]
    assert "/v1/pets/{pet_id}" in openapi_document(app)["paths"]


def test_security_headers_do_not_replace_the_pages_csp():
    app = pet_app()
    app.add_middleware(SecurityMiddleware(secret_key="k" * 32))
    enable_openapi(app)
    with TestClient(app) as client:
        page = client.get("/docs")
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-frame-options"] == "DENY"


def test_docs_none_serves_only_the_document():
    app = pet_app()
    enable_openapi(app, path="/schema.json", docs=None)
    with TestClient(app) as client:
        assert client.get("/schema.json").status_code == 200
        assert client.get("/docs").status_code == 404


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "openapi.json"}, "path must be"),
        ({"docs": "docs"}, "docs must be"),
    ],
)
def test_paths_must_be_absolute(kwargs: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        enable_openapi(pet_app(), **kwargs)


def test_without_the_assets_enabling_the_page_fails_now_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match=r'pip install "gobstopper\[openapi\]"'):
        swagger_ui_directory()
    with pytest.raises(RuntimeError, match="openapi"):
        enable_openapi(pet_app())
