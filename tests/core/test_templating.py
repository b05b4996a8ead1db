"""The app's template integration: init_templates, render_template, registries."""

from __future__ import annotations

import logging
import os
import sys
import types
from pathlib import Path

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.http.response import Response, StreamResponse
from gobstopper.templates import (
    RustTemplateEngine,
    TemplateEngine,
    TemplateNotFound,
    TemplateSyntaxError,
)
from gobstopper.testing import TestClient

ENGINES = pytest.mark.parametrize("use_rust", [True, False], ids=["minijinja", "jinja2"])
HTML = {"accept": "text/html"}


def write(folder: Path, name: str, text: str, *, bump: int = 0) -> Path:
    """Write a template; ``bump`` moves its mtime forward by that many seconds."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if bump:
        mtime = path.stat().st_mtime_ns + bump * 1_000_000_000
        os.utime(path, ns=(mtime, mtime))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "templates"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def quiet_error_log():
    """Expected 500s log their traceback; keep the test output readable."""
    logger = logging.getLogger("gobstopper.errors")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def make_app(folder: Path, use_rust: bool, **options) -> Gobstopper:
    app = Gobstopper("templating-tests", **options)
    app.init_templates(str(folder), use_rust=use_rust)
    return app


# -- engine choice and folders --------------------------------------------------
def test_auto_detect_uses_minijinja_when_installed(folder) -> None:
    app = Gobstopper()
    app.init_templates(folder)
    assert isinstance(app.template_engine, RustTemplateEngine)


def test_auto_detect_falls_back_to_jinja2_without_minijinja(folder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "minijinja", None)
    app = Gobstopper()
    app.init_templates(folder)
    assert isinstance(app.template_engine, TemplateEngine)


def test_use_rust_true_without_minijinja_names_the_install_command(folder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "minijinja", None)
    app = Gobstopper()
    with pytest.raises(ImportError, match=r'pip install "gobstopper\[rust\]"'):
        app.init_templates(folder, use_rust=True)
    assert app.template_engine is None


def test_use_rust_false_forces_jinja2_and_names_its_extra(folder, monkeypatch) -> None:
    app = Gobstopper()
    app.init_templates(folder, use_rust=False)
    assert isinstance(app.template_engine, TemplateEngine)
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=r'pip install "gobstopper\[templates\]"'):
        Gobstopper().init_templates(folder, use_rust=False)


@pytest.mark.parametrize("use_rust", [None, True, False])
def test_missing_folder_is_file_not_found(tmp_path, use_rust) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-templates"):
        Gobstopper().init_templates(str(tmp_path / "no-such-templates"), use_rust=use_rust)


def test_unknown_option_is_a_type_error(folder) -> None:
    with pytest.raises(TypeError, match="cache_sise"):
        Gobstopper().init_templates(folder, cache_sise=10)


def test_relative_folder_prefers_the_app_root_then_the_working_directory(
    tmp_path, monkeypatch
) -> None:
    app_root, cwd = tmp_path / "project" / "pkg", tmp_path / "elsewhere"
    module = types.ModuleType("fake_templating_app")
    module.__file__ = str(app_root / "app.py")
    monkeypatch.setitem(sys.modules, "fake_templating_app", module)
    write(app_root / "views", "where.txt", "app root")
    write(cwd / "views", "where.txt", "cwd")
    write(cwd / "cwd_only", "where.txt", "cwd only")
    monkeypatch.chdir(cwd)

    app = Gobstopper("fake_templating_app")

    async def render(folder: str) -> str:
        app.init_templates(folder, use_rust=False)
        response = await app.render_template("where.txt")
        return response.body

    with TestClient(app) as client:
        assert client.run(render("views")) == "app root"
        assert client.run(render("cwd_only")) == "cwd only"
    with pytest.raises(FileNotFoundError) as missing:
        app.init_templates("nowhere")
    assert str(app_root / "nowhere") in str(missing.value)
    assert str(cwd / "nowhere") in str(missing.value)


def test_render_before_init_templates_says_what_to_call() -> None:
    app = Gobstopper()
    with TestClient(app) as client, pytest.raises(RuntimeError, match="init_templates"):
        client.run(app.render_template("index.html"))


# -- rendering -------------------------------------------------------------------
@ENGINES
def test_render_returns_html_response_with_context(folder, use_rust) -> None:
    write(folder, "hello.html", "<h1>{{ title }}</h1>")
    app = make_app(folder, use_rust)

    @app.get("/")
    async def index(request):
        return await app.render_template("hello.html", title="Home")

    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.text == "<h1>Home</h1>"
    assert response.headers.get("content-type") == "text/html; charset=utf-8"
    assert response.rsgi_call == "response_str"


@ENGINES
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("robots.txt", "text/plain; charset=utf-8"),
        ("feed.xml", "application/xml; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("SHOUT.TXT", "text/plain; charset=utf-8"),
        ("feeds.d/atom.atom", "application/atom+xml; charset=utf-8"),
        ("dir.txt/page", "text/html; charset=utf-8"),
        ("page.htm", "text/html; charset=utf-8"),
        ("partial.j2", "text/html; charset=utf-8"),
    ],
)
def test_content_type_follows_the_extension(folder, use_rust, name, content_type) -> None:
    write(folder, name, "x")
    app = make_app(folder, use_rust)
    with TestClient(app) as client:
        response = client.run(app.render_template(name))
    assert response.headers["content-type"] == content_type


@ENGINES
def test_context_processors_merge_in_order_and_call_context_wins(folder, use_rust) -> None:
    write(folder, "ctx.txt", "{{ a }} {{ b }} {{ c }} {{ calls }}")
    app = make_app(folder, use_rust)
    calls: list[str] = []

    @app.context_processor
    def first():
        calls.append("first")
        return {"a": "first-a", "b": "first-b", "c": "first-c", "calls": len(calls)}

    @app.context_processor
    async def second():
        calls.append("second")
        return {"b": "second-b", "c": "second-c"}

    @app.context_processor
    def nothing():
        return None

    with TestClient(app) as client:
        body = client.run(app.render_template("ctx.txt", c="call-c")).body
        assert body == "first-a second-b call-c 1"
        client.run(app.render_template("ctx.txt"))
    assert calls == ["first", "second", "first", "second"]


@ENGINES
def test_url_for_renders_unescaped_paths_in_html_and_raw_in_text(folder, use_rust) -> None:
    write(folder, "links.html", "<a href=\"{{ url_for('item', item_id=3, q='a&b', p=2) }}\">")
    write(folder, "links.txt", "{{ url_for('item', item_id=3, q='x', p=2) }}")
    app = make_app(folder, use_rust)

    @app.get("/items/<int:item_id>")
    async def item(request, item_id):
        return await app.render_template("links.html")

    with TestClient(app) as client:
        assert client.get("/items/1").text == '<a href="/items/3?q=a%26b&amp;p=2">'
        assert client.run(app.render_template("links.txt")).body == "/items/3?q=x&p=2"


@ENGINES
def test_xss_payload_in_context_is_escaped_in_html(folder, use_rust) -> None:
    write(folder, "xss.html", "<p>{{ comment }}</p><a title='{{ comment }}'>")
    write(folder, "xss.txt", "{{ comment }}")
    app = make_app(folder, use_rust)
    payload = "<script>alert('x')</script>\"&"

    @app.get("/xss")
    async def xss(request):
        return await app.render_template("xss.html", comment=payload)

    with TestClient(app) as client:
        html = client.get("/xss").text
        text = client.run(app.render_template("xss.txt", comment=payload)).body
    assert "<script>" not in html and "'x'" not in html and '"&' not in html
    assert "&lt;script&gt;" in html
    assert text == payload


@ENGINES
@pytest.mark.parametrize("auto_reload", [True, False])
def test_edited_template_is_reread_only_with_auto_reload(folder, use_rust, auto_reload) -> None:
    write(folder, "live.html", "version 1")
    app = Gobstopper()
    app.init_templates(folder, use_rust=use_rust, auto_reload=auto_reload)

    @app.get("/")
    async def live(request):
        return await app.render_template("live.html")

    with TestClient(app) as client:
        assert client.get("/").text == "version 1"
        write(folder, "live.html", "version 2", bump=5)
        assert client.get("/").text == ("version 2" if auto_reload else "version 1")


# -- filters and globals -----------------------------------------------------------
@ENGINES
def test_filters_and_globals_registered_before_and_after_init(folder, use_rust) -> None:
    write(
        folder,
        "reg.txt",
        "{{ 'a'|early }} {{ 'b'|late }} {{ 'c'|bare }} {{ site() }} {{ stamp() }} {{ version }}",
    )
    app = Gobstopper()

    @app.template_filter("early")
    def early_filter(value):
        return value + "-early"

    @app.template_global()
    def site():
        return "Site"

    app.init_templates(folder, use_rust=use_rust)

    @app.template_filter()
    def late(value):
        return value + "-late"

    @app.template_filter
    def bare(value):
        return value + "-bare"

    @app.template_global
    def stamp():
        return "stamp"

    app.add_template_global("1.0", name="version")
    with TestClient(app) as client:
        body = client.run(app.render_template("reg.txt")).body
    assert body == "a-early b-late c-bare Site stamp 1.0"


def test_async_filters_are_awaited_on_jinja2(folder) -> None:
    write(folder, "async.txt", "{{ 'x'|slow }}")
    app = make_app(folder, use_rust=False)

    @app.template_filter()
    async def slow(value):
        return value * 3

    with TestClient(app) as client:
        assert client.run(app.render_template("async.txt")).body == "xxx"


def test_async_filter_is_refused_by_minijinja_not_ignored(folder) -> None:
    app = make_app(folder, use_rust=True)

    async def slow(value):
        return value

    with pytest.raises(TypeError, match="minijinja cannot await"):
        app.template_filter("slow")(slow)
    with pytest.raises(TypeError, match="minijinja cannot await"):
        app.template_global("slow_global")(slow)

    early = Gobstopper()
    early.template_filter("slow")(slow)
    with pytest.raises(TypeError, match="minijinja cannot await"):
        early.init_templates(folder, use_rust=True)


# -- blueprints -------------------------------------------------------------------
@ENGINES
def test_app_folder_wins_over_blueprint_folders(tmp_path, folder, use_rust) -> None:
    admin_folder, shop_folder = tmp_path / "admin_templates", tmp_path / "shop_templates"
    write(folder, "shared.html", "app")
    write(admin_folder, "shared.html", "admin")
    write(admin_folder, "admin_only.html", "admin only")
    write(shop_folder, "admin_only.html", "shop")
    write(shop_folder, "shop_only.html", "shop only")
    admin = Blueprint("admin", "/admin", template_folder=str(admin_folder))
    shop = Blueprint("shop", "/shop", template_folder=str(shop_folder))
    app = Gobstopper()
    app.register_blueprint(admin)
    app.init_templates(folder, use_rust=use_rust)
    app.register_blueprint(shop)  # after init_templates: still searched, after admin

    @admin.get("/")
    async def admin_index(request):
        return await app.render_template("shared.html")

    with TestClient(app) as client:
        assert client.get("/admin/").text == "app"
        assert client.run(app.render_template("admin_only.html")).body == "admin only"
        assert client.run(app.render_template("shop_only.html")).body == "shop only"
    assert app.template_engine.search_path == (folder, admin_folder, shop_folder)


@ENGINES
def test_nested_blueprint_folders_follow_their_parent(tmp_path, folder, use_rust) -> None:
    parent_folder, child_folder = tmp_path / "parent", tmp_path / "child"
    write(child_folder, "child.html", "child")
    parent_folder.mkdir()
    parent = Blueprint("parent", template_folder=str(parent_folder))
    child = Blueprint("child", template_folder=str(child_folder))
    parent.register_blueprint(child)
    app = make_app(folder, use_rust)
    app.register_blueprint(parent)
    with TestClient(app) as client:
        assert client.run(app.render_template("child.html")).body == "child"
    assert app.template_engine.search_path == (folder, parent_folder, child_folder)


@ENGINES
def test_blueprint_registered_after_requests_is_searched(tmp_path, folder, use_rust) -> None:
    late_folder = tmp_path / "late"
    write(late_folder, "late.html", "late")
    app = make_app(folder, use_rust)
    app.register_blueprint(Blueprint("early"))

    @app.get("/<name>")
    async def page(request, name):
        return await app.render_template(name)

    with TestClient(app) as client:
        assert client.get("/late.html").status_code == 500
        app.register_blueprint(Blueprint("late", template_folder=str(late_folder)))
        assert client.get("/late.html").text == "late"


def test_missing_blueprint_folder_names_the_blueprint(tmp_path, folder) -> None:
    app = Gobstopper()
    app.register_blueprint(Blueprint("ghost", template_folder=str(tmp_path / "gone")))
    with pytest.raises(FileNotFoundError, match="'ghost'"):
        app.init_templates(folder)


# -- streaming ---------------------------------------------------------------------
ROWS = "{% for row in rows %}<tr><td>{{ row }}</td><td>{{ label }}</td></tr>\n{% endfor %}"


@ENGINES
def test_stream_sends_the_same_page_jinja2_in_chunks_minijinja_in_one(folder, use_rust) -> None:
    write(folder, "rows.html", ROWS)
    app = make_app(folder, use_rust)

    @app.get("/rows")
    async def rows(request):
        stream = request.args.get("stream", ["0"])[0] == "1"
        return await app.render_template(
            "rows.html", stream=stream, rows=range(10_000), label="<b>"
        )

    with TestClient(app) as client:
        whole = client.get("/rows")
        streamed = client.get("/rows?stream=1")
    assert streamed.rsgi_call == "response_stream"
    assert streamed.headers.get("content-type") == "text/html; charset=utf-8"
    assert streamed.content == whole.content
    assert whole.text.count("<tr>") == 10_000 and "&lt;b&gt;" in whole.text
    if use_rust:
        assert len(streamed.chunks) == 1
    else:
        assert len(streamed.chunks) > 10


@ENGINES
def test_stream_render_returns_stream_response(folder, use_rust) -> None:
    write(folder, "empty.html", "")
    app = make_app(folder, use_rust)
    with TestClient(app) as client:
        response = client.run(app.render_template("empty.html", stream=True))
        assert isinstance(response, StreamResponse)
        assert isinstance(client.run(app.render_template("empty.html")), Response)


@ENGINES
def test_stream_of_a_missing_template_raises_before_headers(folder, use_rust) -> None:
    app = make_app(folder, use_rust)

    @app.get("/missing")
    async def missing(request):
        return await app.render_template("missing.html", stream=True)

    with TestClient(app) as client:
        with pytest.raises(TemplateNotFound):
            client.run(app.render_template("missing.html", stream=True))
        response = client.get("/missing", headers=HTML)
    assert response.status_code == 500
    assert response.rsgi_call == "response_str"


def test_disconnect_mid_stream_closes_the_render(folder) -> None:
    write(folder, "rows.html", ROWS)
    app = make_app(folder, use_rust=False)
    closed: list[bool] = []

    def rows():
        try:
            yield from range(100_000)
        finally:
            closed.append(True)

    @app.get("/rows")
    async def stream_rows(request):
        return await app.render_template("rows.html", stream=True, rows=rows(), label="x")

    with TestClient(app) as client:
        response = client.get("/rows", disconnect_after_chunks=2)
    assert len(response.chunks) == 2
    assert closed == [True]


# -- errors ------------------------------------------------------------------------
@ENGINES
def test_missing_template_is_a_500_without_internals_in_production(folder, use_rust) -> None:
    app = make_app(folder, use_rust)

    @app.get("/")
    async def index(request):
        return await app.render_template("nope/missing.html")

    with TestClient(app) as client:
        page = client.get("/", headers=HTML)
        api = client.get("/", headers={"accept": "application/json"})
    assert page.status_code == 500 and api.status_code == 500
    for body in (page.text, api.text):
        assert "missing.html" not in body
        assert str(folder) not in body
        assert "Traceback" not in body
    assert "Internal Server Error" in page.text
    assert api.json() == {"error": "Internal Server Error", "status": 500}


@ENGINES
def test_debug_page_names_missing_template_and_search_path(tmp_path, folder, use_rust) -> None:
    extra = tmp_path / "bp_templates"
    extra.mkdir()
    app = make_app(folder, use_rust, debug=True)
    app.register_blueprint(Blueprint("bp", template_folder=str(extra)))

    @app.get("/")
    async def index(request):
        return await app.render_template("nope/missing.html")

    with TestClient(app) as client:
        page = client.get("/", headers=HTML)
    assert page.status_code == 500
    assert "TemplateNotFound" in page.text
    assert "nope/missing.html" in page.text
    assert str(folder) in page.text and str(extra) in page.text
    assert "Traceback" in page.text


@ENGINES
@pytest.mark.parametrize("stream", [False, True])
def test_syntax_error_names_file_and_line(folder, use_rust, stream) -> None:
    path = write(folder, "broken.html", "<p>one</p>\n<p>two</p>\n{{ value + }}\n")
    app = make_app(folder, use_rust, debug=True)

    @app.get("/")
    async def index(request):
        return await app.render_template("broken.html", stream=stream, value=1)

    with TestClient(app) as client:
        with pytest.raises(TemplateSyntaxError) as raised:
            client.run(app.render_template("broken.html", stream=stream, value=1))
        page = client.get("/", headers=HTML)
    assert raised.value.filename == str(path)
    assert raised.value.lineno == 3
    assert page.status_code == 500
    assert f"{path}, line 3" in page.text


@ENGINES
def test_error_handler_can_render_a_template(folder, use_rust) -> None:
    write(folder, "errors/404.html", "<h1>No page at {{ path }}</h1>")
    app = make_app(folder, use_rust)

    @app.error_handler(404)
    async def not_found(request, error):
        return await app.render_template("errors/404.html", path=request.path)

    with TestClient(app) as client:
        response = client.get("/<i>gone", headers=HTML)
    assert response.status_code == 404
    # minijinja writes the '/' as &#x2f; (see docs/templates.md); both are safe.
    assert response.text.replace("&#x2f;", "/") == "<h1>No page at /&lt;i&gt;gone</h1>"


def test_default_error_pages_need_no_template_folder() -> None:
    app = Gobstopper()  # no init_templates: no folder, no engine

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("secret internals")

    with TestClient(app) as client:
        missing = client.get("/<b>nowhere", headers=HTML)
        broken = client.get("/boom", headers=HTML)
    assert app.template_engine is None
    assert missing.status_code == 404
    assert missing.headers.get("content-type").startswith("text/html")
    assert "<style>" in missing.text and "404" in missing.text
    assert "<b>nowhere" not in missing.text
    assert broken.status_code == 500
    assert "<style>" in broken.text
    assert "secret internals" not in broken.text and "Traceback" not in broken.text


def test_debug_error_page_shows_the_traceback_without_templates() -> None:
    app = Gobstopper(debug=True)

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("<visible> detail")

    with TestClient(app) as client:
        page = client.get("/boom", headers=HTML)
    assert page.status_code == 500
    assert "Traceback" in page.text and "RuntimeError" in page.text
    assert "&lt;visible&gt; detail" in page.text
    assert "in boom" in page.text  # the frame of the failing handler


@ENGINES
def test_stream_template_helper_goes_through_the_app(folder, use_rust) -> None:
    from gobstopper.http.helpers import stream_template

    write(folder, "rows.html", ROWS)
    app = make_app(folder, use_rust)

    @app.context_processor
    def label():
        return {"label": "from-processor"}

    @app.get("/rows")
    async def rows(request):
        return await stream_template(app, "rows.html", rows=range(3))

    with TestClient(app) as client:
        response = client.get("/rows")
        with pytest.raises(TemplateNotFound):
            client.run(stream_template(app, "missing.html"))
    assert response.rsgi_call == "response_stream"
    assert response.text.count("<td>from-processor</td>") == 3
