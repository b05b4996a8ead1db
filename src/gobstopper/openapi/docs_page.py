"""``enable_openapi(app)``: serve the document and a Swagger UI page.

Opt-in: nothing is routed until it is called. The page's assets come from
the ``swagger-ui-py`` package (Swagger UI 5, which renders OpenAPI 3.1;
``swagger-ui-bundle`` ships Swagger UI 4, which refuses 3.1 documents) and
are served by the app itself, never from a CDN. The page runs no inline
script: its start-up code is a separate same-origin file, so its CSP can
be ``script-src 'self'`` and name nothing outside the app.
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from gobstopper.http.errors import NotFound
from gobstopper.http.request import Request
from gobstopper.http.response import FileResponse, Response
from gobstopper.openapi.builder import Info, openapi_json, set_info
from gobstopper.openapi.metadata import operation

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper

INSTALL = 'pip install "gobstopper[openapi]"'
#: The Swagger UI files the page loads, served from the package's ``static`` folder.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")
START_SCRIPT = "start.js"
#: Exactly what the page needs: its own scripts, styles and images (Swagger UI draws
#: icons as data: URIs), and fetches of the document and "Try it out" calls to the app.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
ASSET_CACHE = "public, max-age=86400"

_START = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null
  });
});
"""

_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="{url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/{start}"></script>
</body>
</html>
"""


def swagger_ui_directory() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-py``.

    Found without importing the package (its handlers import web frameworks).
    Raises ``RuntimeError`` naming the install command when it is missing.
    """
    spec = importlib.util.find_spec("swagger_ui")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    directory = Path(locations[0]) / "static" if locations else None
    if directory is None or not all((directory / name).is_file() for name in ASSETS):
        raise RuntimeError(f"the /docs page needs Swagger UI's files: {INSTALL}")
    return directory


def _check_path(label: str, path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"{label} must be a path starting with '/', got {path!r}")
    return path


def enable_openapi(
    app: Gobstopper,
    path: str = "/openapi.json",
    docs: str | None = "/docs",
    *,
    title: str | None = None,
    version: str = "0.1.0",
    description: str | None = None,
) -> None:
    """Serve ``app``'s OpenAPI document at ``path`` and Swagger UI at ``docs``.

    ``docs=None`` serves only the document. ``title`` (default: the app's
    name), ``version`` and ``description`` fill the document's ``info``.
    The document is built on the first request to ``path`` (or the first
    ``app.openapi()``), not per request, and these routes are left out of it.
    Raises ``RuntimeError`` now if the page's assets are not installed.
    """
    _check_path("path", path)
    set_info(app, Info(title, version, description))

    @operation(include_in_schema=False)
    async def openapi_json_route(request: Request) -> Response:
        return Response(openapi_json(app), content_type="application/json")

    app.add_url_rule(path, openapi_json_route, ["GET"], name="openapi_json")
    if docs is not None:
        _add_docs(app, _check_path("docs", docs), path, title or app.name)


def _add_docs(app: Gobstopper, docs: str, document_path: str, title: str) -> None:
    """Route the page at ``docs`` and its assets under ``docs/``."""
    directory = swagger_ui_directory()
    files = {name: directory / name for name in ASSETS}
    base = docs.rstrip("/")
    page = _PAGE.replace("{title}", html.escape(title)).replace("{start}", START_SCRIPT)

    @operation(include_in_schema=False)
    async def openapi_docs(request: Request) -> Response:
        # The app may be mounted: every URL in the page carries the mount prefix.
        root = html.escape(request.root_path)
        body = page.replace("{assets}", root + html.escape(base)).replace(
            "{url}", root + html.escape(document_path)
        )
        return Response(body, headers={"content-security-policy": CSP})

    @operation(include_in_schema=False)
    async def openapi_docs_asset(request: Request, asset: str) -> Response:
        headers = {"cache-control": ASSET_CACHE, "x-content-type-options": "nosniff"}
        if asset == START_SCRIPT:
            return Response(_START, headers=headers, content_type="text/javascript; charset=utf-8")
        found = files.get(asset)
        if found is None:
            raise NotFound()
        return FileResponse(found, headers=headers, as_attachment=False)

    app.add_url_rule(docs, openapi_docs, ["GET"], name="openapi_docs")
    app.add_url_rule(base + "/<asset>", openapi_docs_asset, ["GET"], name="openapi_docs_asset")
