"""The reference's template examples, as written, on both engines.

Each test writes the templates an example needs, then runs the example's code
unchanged (the ``>>>`` prompts removed). Names an example uses without
defining them (``get_users``, ``huge_dataset``, ``error_tracker``) are
defined first, as the user's own code would.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from gobstopper.core.app import Gobstopper
from gobstopper.http.response import JSONResponse, StreamResponse
from gobstopper.templates.engine import TemplateEngine
from gobstopper.templates.rust_engine import RustTemplateEngine
from gobstopper.testing import TestClient

ENGINES = pytest.mark.parametrize("use_rust", [True, False], ids=["minijinja", "jinja2"])
HTML = {"accept": "text/html"}


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with a ``templates`` folder, as the working directory."""
    write(
        tmp_path / "templates",
        "index.html",
        "<title>{{ title }}</title><p>Hello {{ user_name }}</p>",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def engine_name(app: Gobstopper) -> str:
    return type(app.template_engine).__name__


# -- init_templates ----------------------------------------------------------------
def test_init_templates_auto_detection(project) -> None:
    app = Gobstopper(__name__)
    app.init_templates("templates")  # Uses Rust if available
    assert engine_name(app) == "RustTemplateEngine"
    assert app.template_engine.search_path == ((project / "templates").resolve(),)


def test_init_templates_force_specific_engine(project) -> None:
    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=True)  # Rust only
    assert engine_name(app) == "RustTemplateEngine"
    app.init_templates("templates", use_rust=False)  # Jinja2 only
    assert engine_name(app) == "TemplateEngine"


def test_init_templates_with_custom_options(project) -> None:
    app = Gobstopper(__name__)
    app.init_templates(
        "templates",
        auto_reload=False,  # Disable file watching
        cache_size=1000,  # Larger cache
        enable_streaming=True,  # Rust streaming (if available)
    )
    with TestClient(app) as client:
        first = client.run(app.render_template("index.html", title="T", user_name="A"))
        write(project / "templates", "index.html", "changed")
        second = client.run(app.render_template("index.html", title="T", user_name="A"))
    assert first.body == second.body == "<title>T</title><p>Hello A</p>"


# -- context_processor ---------------------------------------------------------------
@ENGINES
def test_context_processor_examples(project, use_rust, monkeypatch) -> None:
    write(
        project / "templates",
        "globals.html",
        "{{ app_name }} {{ version }} {{ current_year }} | {{ user or 'guest' }} | "
        "{{ debug }} {{ site_name }}",
    )
    monkeypatch.setenv("SITE_NAME", "Example Site")
    request = None  # the user's module-level name; Gobstopper has no global request proxy
    app = Gobstopper(__name__, debug=True)
    app.init_templates("templates", use_rust=use_rust)

    # Add global template variables:
    @app.context_processor
    def inject_globals():
        return {"app_name": "Gobstopper", "version": "1.0.0", "current_year": 2025}

    # Inject current user:
    @app.context_processor
    async def inject_user():
        # Access request context if available
        return {"user": getattr(request, "user", None)}

    # Configuration values:
    @app.context_processor
    def inject_config():
        return {"debug": app.debug, "site_name": os.getenv("SITE_NAME", "Gobstopper App")}

    @app.get("/")
    async def page(request):
        return await app.render_template("globals.html")

    with TestClient(app) as client:
        body = client.get("/").text
    assert body == "Gobstopper 1.0.0 2025 | guest | True Example Site"


# -- template_filter / template_global ---------------------------------------------
@ENGINES
def test_template_filter_and_global_decorators(project, use_rust) -> None:
    write(project / "templates", "custom.txt", "{{ 'hi'|shout }} {{ 'x'|reverse_it }} {{ now() }}")
    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    @app.template_filter("shout")
    def shout(text):
        return text.upper() + "!"

    @app.template_filter()
    def reverse_it(text):
        return text[::-1] + "<"

    @app.template_global()
    def now():
        return "2025-01-01"

    with TestClient(app) as client:
        assert client.run(app.render_template("custom.txt")).body == "HI! x< 2025-01-01"


# -- error_handler with a template -------------------------------------------------
@ENGINES
def test_custom_404_page_example(project, use_rust) -> None:
    write(project / "templates", "errors/404.html", "<h1>Nothing at {{ path }}</h1>")
    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    @app.error_handler(404)
    async def not_found(request, error):
        return await app.render_template("errors/404.html", path=request.path)

    with TestClient(app) as client:
        response = client.get("/missing-page", headers=HTML)
    assert response.status_code == 404
    assert response.text.replace("&#x2f;", "/") == "<h1>Nothing at /missing-page</h1>"


@ENGINES
def test_custom_500_with_error_tracking_example(project, use_rust) -> None:
    captured: list[str] = []

    class Tracker:
        async def capture(self, error, request):
            captured.append(f"{type(error).__name__} {request.path}")

    error_tracker = Tracker()
    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    @app.get("/report")
    async def report(request):
        return await app.render_template("no-such-report.html")

    @app.error_handler(500)
    async def server_error(request, error):
        # Log to error tracking service
        await error_tracker.capture(error, request)
        return JSONResponse(
            {"error": "Internal server error", "request_id": request.id}, status=500
        )

    with TestClient(app) as client:
        response = client.get("/report")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "Internal server error" and body["request_id"]
    assert captured == ["TemplateNotFound /report"]


# -- render_template ------------------------------------------------------------------
@ENGINES
def test_basic_template_rendering(project, use_rust) -> None:
    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    @app.get("/")
    async def index(request):
        return await app.render_template("index.html", title="Home Page", user_name="Alice")

    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.text == "<title>Home Page</title><p>Hello Alice</p>"


@ENGINES
def test_render_with_complex_context(project, use_rust) -> None:
    write(
        project / "templates",
        "dashboard.html",
        "<h1>{{ page_title }}</h1><ul>{% for user in users %}"
        "<li>{{ user.name }} ({{ user['email'] }})</li>{% endfor %}</ul>",
    )

    async def get_users():
        return [{"name": "Ann", "email": "ann@example.com"}, {"name": "<Bob>", "email": "b@x"}]

    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    @app.get("/dashboard")
    async def dashboard(request):
        users = await get_users()
        return await app.render_template("dashboard.html", users=users, page_title="Dashboard")

    with TestClient(app) as client:
        response = client.get("/dashboard")
    assert response.text == (
        "<h1>Dashboard</h1><ul><li>Ann (ann@example.com)</li><li>&lt;Bob&gt; (b@x)</li></ul>"
    )


LARGE = "{% for row in data %}<tr><td>{{ row.id }}</td><td>{{ row.name }}</td></tr>{% endfor %}"


@ENGINES
def test_streaming_large_datasets(project, use_rust) -> None:
    write(project / "templates", "report.html", LARGE)

    async def get_large_dataset():
        return [{"id": i, "name": f"item {i}"} for i in range(5_000)]

    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    @app.get("/report")
    async def large_report(request):
        big_data = await get_large_dataset()
        return await app.render_template("report.html", stream=True, data=big_data)

    with TestClient(app) as client:
        response = client.get("/report")
    assert response.rsgi_call == "response_stream"
    assert response.text.count("<tr>") == 5_000
    assert "<td>4999</td><td>item 4999</td>" in response.text
    assert (len(response.chunks) == 1) if use_rust else (len(response.chunks) > 1)


@ENGINES
def test_stream_response_template_streaming_example(project, use_rust) -> None:
    write(project / "templates", "large_page.html", LARGE)
    huge_dataset = [SimpleNamespace(id=i, name=f"n{i}") for i in range(1_000)]
    app = Gobstopper(__name__)
    app.init_templates("templates", use_rust=use_rust)

    async def stream_template():
        return await app.render_template("large_page.html", stream=True, data=huge_dataset)

    with TestClient(app) as client:
        response = client.run(stream_template())
        assert isinstance(response, StreamResponse)
        app.get("/large")(lambda request: response)
        body = client.get("/large").text
    assert body.count("<tr>") == 1_000 and body.endswith("<td>999</td><td>n999</td></tr>")


# -- the Templates section: TemplateEngine ---------------------------------------------
@pytest.mark.parametrize(
    "engine_class", [RustTemplateEngine, TemplateEngine], ids=["minijinja", "jinja2"]
)
async def test_template_engine_class_api(tmp_path, engine_class) -> None:
    write(tmp_path / "templates", "page.html", "{{ greet(name)|tag }}")
    write(tmp_path / "blueprint_templates", "bp.html", "from blueprint: {{ name }}")
    engine = engine_class(template_folder=tmp_path / "templates", auto_reload=True, cache_size=400)
    engine.add_search_path(tmp_path / "blueprint_templates")
    engine.add_filter("tag", lambda text: f"[{text}]")
    engine.add_global("greet", lambda name: f"Hello {name}")
    assert await engine.render_template_async("page.html", name="<Ann>") == "[Hello &lt;Ann&gt;]"
    assert await engine.render_template_async("bp.html", name="Bo") == "from blueprint: Bo"
