"""Static files: StaticFileMiddleware, its Rust/Hybrid variants, blueprint folders."""

from __future__ import annotations

import gzip
import os
from urllib.parse import unquote

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.http.errors import Forbidden, NotFound
from gobstopper.http.request import Request
from gobstopper.middleware import (
    HybridStaticMiddleware,
    RustStaticMiddleware,
    StaticFileMiddleware,
)
from gobstopper.middleware.static import granian_static_options
from gobstopper.testing import FakeHTTPProtocol, TestClient, build_request
from tests.middleware.static_tree import CSS, DOUBLE_ENCODED, ESCAPES, SECRET, make_tree


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path)


def static_app(middleware):
    app = Gobstopper()
    app.add_middleware(middleware)

    @app.get("/")
    async def index(request):
        return "index"

    @app.post("/static/upload")
    async def upload(request):
        return "uploaded"

    return app


@pytest.fixture
def client(tree):
    with TestClient(static_app(StaticFileMiddleware(str(tree), "/static"))) as test_client:
        yield test_client


# -- serving ------------------------------------------------------------------------
def test_serves_file_with_documented_headers(client):
    result = client.get("/static/app.css")
    assert result.status_code == 200
    assert result.rsgi_call == "response_file"
    assert result.content == CSS
    assert result.headers["cache-control"] == "public, max-age=3600"
    assert result.headers["content-type"] == "text/css"
    assert result.headers["content-length"] == str(len(CSS))
    assert result.headers["etag"] and result.headers["last-modified"]
    assert "content-disposition" not in result.headers
    assert client.get("/static/sub/page.html").headers["content-type"] == "text/html"
    assert client.get("/static/alias.css").content == CSS  # symlinks that stay inside
    assert client.get("/static/subalias/page.html").text == "<p>hi</p>"
    assert client.get("/static/./sub//page.html").text == "<p>hi</p>"


def test_etag_304_head_and_range(client):
    etag = client.get("/static/app.css").headers["etag"]
    cached = client.get("/static/app.css", headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    head = client.head("/static/app.css")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(CSS))
    part = client.get("/static/data.bin", headers={"range": "bytes=16-31"})
    assert part.status_code == 206 and part.content == bytes(range(16, 32))
    assert client.get("/static/data.bin", headers={"range": "bytes=999-"}).status_code == 416


def test_missing_files_and_directories_are_404(client):
    for path in ("/static/nope.css", "/static/sub", "/static/sub/", "/static/", "/static/a/b/c"):
        result = client.get(path)
        assert result.status_code == 404, path
        assert client.head(path).status_code == 404, path


def test_other_paths_and_methods_pass_through(client):
    assert client.get("/").text == "index"
    assert client.post("/static/upload").text == "uploaded"
    assert client.get("/staticfile.css").status_code == 404
    assert client.delete("/static/app.css").status_code in (404, 405)


@pytest.mark.parametrize("attempt", ESCAPES)
def test_escape_attempts_are_403_without_content(client, attempt):
    result = client.get(attempt, headers={"accept": "application/json"})
    assert result.status_code == 403, attempt
    assert SECRET not in result.content and b"root:" not in result.content


@pytest.mark.parametrize("attempt", DOUBLE_ENCODED)
def test_double_encoded_dots_are_just_missing_names(client, attempt):
    result = client.get(attempt)
    assert result.status_code == 404 and SECRET not in result.content


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        ("/static/../secret.txt", "/static/../no-such-file.txt"),
        ("/static/%2e%2e/secret.txt", "/static/%2e%2e/no-such-file.txt"),
        ("/static/link.txt", "/static/deadlink.txt"),
        ("/static/linkdir/secret.txt", "/static/linkdir/no-such-file.txt"),
    ],
)
def test_answer_does_not_reveal_whether_outside_files_exist(client, existing, missing):
    for accept in ("application/json", "text/html"):
        a = client.get(existing, headers={"accept": accept})
        b = client.get(missing, headers={"accept": accept})
        assert (a.status_code, a.content) == (b.status_code, b.content)
        assert a.status_code == 403


async def test_middleware_called_directly(tree):
    middleware = StaticFileMiddleware(str(tree), "/static/")
    assert middleware.url_prefix == "/static"

    async def call_next(request):
        return "next"

    def request(path):
        scope, _ = build_request("GET", path)
        return Request(scope, FakeHTTPProtocol(b""))

    assert await middleware(request("/other"), call_next) == "next"
    served = await middleware(request("/static/app.css"), call_next)
    proto = FakeHTTPProtocol(b"")
    served.send(proto, request("/static/app.css"))
    assert proto.chunks == [CSS]
    with pytest.raises(Forbidden):
        await middleware(request("/static/%2e%2e/secret.txt"), call_next)
    with pytest.raises(NotFound):
        await middleware(request("/static/absent.txt"), call_next)


def test_constructor_checks(tmp_path):
    with pytest.raises(FileNotFoundError):
        StaticFileMiddleware(str(tmp_path / "absent"))
    with pytest.raises(ValueError):
        StaticFileMiddleware(str(tmp_path), "static")


def test_relative_static_dir_and_defaults(tree, monkeypatch):
    monkeypatch.chdir(tree.parent)
    middleware = StaticFileMiddleware()
    assert middleware.url_prefix == "/static"
    assert middleware.files.root == str(tree.resolve())


def test_custom_error_page_is_used(tree):
    app = static_app(StaticFileMiddleware(str(tree), "/static"))

    @app.error_handler(404)
    async def not_found(request, error):
        return "custom missing page"

    with TestClient(app) as client:
        result = client.get("/static/absent.css")
    assert result.status_code == 404 and result.text == "custom missing page"


def test_root_prefix_falls_through_to_routes(tree):
    with TestClient(static_app(StaticFileMiddleware(str(tree), "/"))) as client:
        assert client.get("/app.css").content == CSS
        assert client.get("/").text == "index"
        assert client.get("/absent").status_code == 404
        assert client.get("/../secret.txt").status_code == 403


def test_several_static_directories(tmp_path):
    for name in ("css", "js"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"a.{name}").write_text(name)
    app = Gobstopper()
    app.add_middleware(StaticFileMiddleware(str(tmp_path / "css"), "/css"))
    app.add_middleware(StaticFileMiddleware(str(tmp_path / "js"), "/js"))
    with TestClient(app) as client:
        assert client.get("/css/a.css").text == "css"
        assert client.get("/js/a.js").text == "js"
        assert client.get("/js/a.css").status_code == 404


# -- RustStaticMiddleware -------------------------------------------------------------
def test_rust_variant_declares_granian_mount_and_serves_as_fallback(tree):
    rust = RustStaticMiddleware(str(tree), "/assets", expires=600)
    assert rust.granian_static_mount == ("/assets", str(tree.resolve()))
    with TestClient(static_app(rust)) as client:
        assert client.get("/assets/app.css").content == CSS
        assert client.get("/assets/../secret.txt").status_code == 403
    with pytest.raises(ValueError):
        RustStaticMiddleware(str(tree), "/")


def test_granian_static_options_collects_app_and_blueprint_mounts(tree, tmp_path):
    app = Gobstopper()
    assert granian_static_options(app) == {}
    app.add_middleware(RustStaticMiddleware(str(tree), "/assets", expires=900))
    app.add_middleware(StaticFileMiddleware(str(tree), "/plain"))  # Python-only: not mounted
    blueprint = Blueprint("docs", "/docs")
    blueprint.add_middleware(RustStaticMiddleware(str(tree / "sub"), "/docs/files", expires=60))
    app.register_blueprint(blueprint)
    options = granian_static_options(app)
    assert options == {
        "static_path_route": ["/assets", "/docs/files"],
        "static_path_mount": [tree.resolve(), (tree / "sub").resolve()],
        "static_path_expires": 60,
    }


# -- HybridStaticMiddleware -----------------------------------------------------------
@pytest.fixture
def hybrid(tree, tmp_path):
    (tree / "app.js").write_text("console.log(1)")
    (tree / "app.js.gz").write_bytes(gzip.compress(b"console.log(1)"))
    (tree / "app.js.br").write_bytes(b"fake-brotli")
    (tree / "only.css").write_text("x")
    (tmp_path / "evil.gz").write_bytes(b"outside gzip")
    os.symlink(tmp_path / "evil.gz", tree / "only.css.gz")
    with TestClient(static_app(HybridStaticMiddleware(str(tree), "/static"))) as client:
        yield client


def test_hybrid_negotiates_precompressed_siblings(hybrid):
    brotli = hybrid.get("/static/app.js", headers={"accept-encoding": "gzip, br"})
    assert brotli.content == b"fake-brotli"
    assert brotli.headers["content-encoding"] == "br"
    assert brotli.headers["content-type"] == "text/javascript"
    assert brotli.headers["vary"] == "Accept-Encoding"
    gz = hybrid.get("/static/app.js", headers={"accept-encoding": "gzip;q=1, br;q=0"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gz.content) == b"console.log(1)"
    plain = hybrid.get("/static/app.js")
    assert plain.content == b"console.log(1)" and "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert brotli.headers["etag"] != plain.headers["etag"]


def test_hybrid_ignores_siblings_that_escape(hybrid):
    result = hybrid.get("/static/only.css", headers={"accept-encoding": "gzip"})
    assert result.content == b"x" and "content-encoding" not in result.headers
    assert hybrid.get("/static/../secret.txt").status_code == 403


# -- blueprint static folders ---------------------------------------------------------
def blueprint_app(tree, prefix="/admin"):
    app = Gobstopper()
    admin = Blueprint("admin", prefix, static_folder=str(tree))
    app.register_blueprint(admin)
    return app


def test_blueprint_static_folder_is_served_and_url_for_works(tree):
    app = blueprint_app(tree)
    assert app.url_for("admin.static", filename="sub/page.html") == "/admin/static/sub/page.html"
    with TestClient(app) as client:
        result = client.get(app.url_for("admin.static", filename="app.css"))
        assert result.status_code == 200 and result.content == CSS
        assert result.headers["cache-control"] == "public, max-age=3600"
        assert client.head("/admin/static/app.css").headers["content-length"] == str(len(CSS))
        etag = result.headers["etag"]
        assert (
            client.get("/admin/static/app.css", headers={"if-none-match": etag}).status_code == 304
        )
        assert client.get("/admin/static/absent.css").status_code == 404


@pytest.mark.parametrize("attempt", [a.replace("/static/", "/admin/static/", 1) for a in ESCAPES])
def test_blueprint_static_folder_refuses_escapes(tree, attempt):
    with TestClient(blueprint_app(tree)) as client:
        result = client.get(attempt, headers={"accept": "application/json"})
    # "//" leaves an empty segment that the <path:> route never matches: the router's 404.
    assert result.status_code == (404 if "//" in unquote(attempt) else 403), attempt
    assert SECRET not in result.content


def test_nested_blueprint_static_and_missing_folder(tmp_path):
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "x.txt").write_text("x")
    app = Gobstopper()
    outer = Blueprint("outer", "/outer")
    inner = Blueprint("inner", "/inner", static_folder=str(tmp_path / "pub"))
    ghost = Blueprint("ghost", "/ghost", static_folder=str(tmp_path / "not-there"))
    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    app.register_blueprint(ghost)
    assert app.url_for("outer.inner.static", filename="x.txt") == "/outer/inner/static/x.txt"
    with TestClient(app) as client:
        assert client.get("/outer/inner/static/x.txt").text == "x"
        assert client.get("/ghost/static/x.txt").status_code == 404


def test_granian_accepts_the_static_options(tree):
    from granian import Granian
    from granian.constants import Interfaces

    app = Gobstopper()
    app.add_middleware(RustStaticMiddleware(str(tree), "/assets", expires=300))
    server = Granian("responses_app:app", interface=Interfaces.RSGI, **granian_static_options(app))
    assert server.static_path == ([("/assets", str(tree.resolve()))], None, "300")
