"""Behaviour both engines share: each test runs on both."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from gobstopper.templates import TemplateNotFound, TemplateSyntaxError

XSS = "<script>alert('x')</script>"


@dataclass
class User:
    name: str
    email: str


async def test_reference_index_example(engine_class, folder, write_template):
    write_template(
        "index.html",
        "<title>{{ title }}</title><h1>Hello, {{ user_name }}!</h1>"
        "<footer>{{ app_name }} {{ version }} ({{ current_year }})</footer>",
    )
    engine = engine_class(folder)
    context_processor_output = {"app_name": "Gobstopper", "version": "1.0.0", "current_year": 2025}

    html = await engine.render_template_async(
        "index.html", title="Home Page", user_name="Alice", **context_processor_output
    )

    assert html == (
        "<title>Home Page</title><h1>Hello, Alice!</h1><footer>Gobstopper 1.0.0 (2025)</footer>"
    )


async def test_reference_dashboard_example(engine_class, folder, write_template):
    write_template(
        "dashboard.html",
        "<h1>{{ page_title }}</h1><ul>{% for user in users %}"
        "<li>{{ loop.index }}. {{ user.name }} &lt;{{ user['email'] if user is mapping "
        "else user.email }}&gt;</li>{% endfor %}</ul><p>{{ users|length }} users</p>",
    )
    engine = engine_class(folder)
    users = [User("Alice", "a@example.com"), {"name": "Bob", "email": "b@example.com"}]

    html = await engine.render_template_async("dashboard.html", users=users, page_title="Dashboard")

    assert html == (
        "<h1>Dashboard</h1><ul><li>1. Alice &lt;a@example.com&gt;</li>"
        "<li>2. Bob &lt;b@example.com&gt;</li></ul><p>2 users</p>"
    )


async def test_reference_404_example_escapes_path(engine_class, folder, write_template):
    write_template("errors/404.html", "<p>No page at {{ path }}</p>")
    engine = engine_class(folder)

    html = await engine.render_template_async("errors/404.html", path=f"/{XSS}")

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


async def test_docs_hello_example(engine_class, folder, write_template):
    write_template("hello.html", "<h1>{{ site_name }}: {{ name|shout }}</h1>")
    engine = engine_class(folder)
    engine.add_filter("shout", lambda text: text.upper() + "!")
    engine.add_global("site_name", "Gobstopper")

    html = await engine.render_template_async("hello.html", name="<Alice>")

    assert html == "<h1>Gobstopper: &lt;ALICE&gt;!</h1>"


async def test_extends_and_include(engine_class, folder, write_template):
    write_template("base.html", "<main>{% block content %}{% endblock %}</main>")
    write_template("nav.html", "<nav>{{ section }}</nav>")
    write_template(
        "page.html",
        '{% extends "base.html" %}{% block content %}{% include "nav.html" %}body{% endblock %}',
    )
    engine = engine_class(folder)

    assert await engine.render_template_async("page.html", section="docs") == (
        "<main><nav>docs</nav>body</main>"
    )


@pytest.mark.parametrize("name", ["p.html", "p.htm", "p.xml", "p.xhtml", "p.HTML"])
async def test_markup_templates_are_escaped(engine_class, folder, write_template, name):
    write_template(name, "{{ payload }}")
    engine = engine_class(folder)

    out = await engine.render_template_async(name, payload=XSS)

    assert "<script>" not in out
    assert "&lt;script&gt;" in out


@pytest.mark.parametrize("name", ["p.txt", "p.md", "p.csv"])
async def test_other_templates_are_not_escaped(engine_class, folder, write_template, name):
    write_template(name, "{{ payload }}")
    engine = engine_class(folder)

    assert await engine.render_template_async(name, payload=XSS) == XSS


async def test_safe_filter_bypasses_escaping(engine_class, folder, write_template):
    write_template("p.html", "{{ trusted|safe }}{{ untrusted }}")
    engine = engine_class(folder)

    out = await engine.render_template_async("p.html", trusted="<b>ok</b>", untrusted="<i>")

    assert out == "<b>ok</b>&lt;i&gt;"


async def test_filter_and_global_take_arguments(engine_class, folder, write_template):
    write_template("p.txt", '{{ 3|pad(5, fill="0") }} {{ url_for("user", id=7) }} {{ limit }}')
    engine = engine_class(folder)
    engine.add_filter("pad", lambda value, width, fill=" ": str(value).rjust(width, fill))
    engine.add_global("url_for", lambda endpoint, **values: f"/{endpoint}/{values['id']}")
    engine.add_global("limit", 10)

    assert await engine.render_template_async("p.txt") == "00003 /user/7 10"


async def test_filter_exception_propagates(engine_class, folder, write_template):
    write_template("p.txt", "{{ 1|fail }}")
    engine = engine_class(folder)

    def fail(value: int) -> str:
        raise ValueError(f"bad value {value}")

    engine.add_filter("fail", fail)

    with pytest.raises(ValueError, match="bad value 1"):
        await engine.render_template_async("p.txt")


async def test_stream_joins_to_the_rendered_page(engine_class, folder, write_template):
    write_template("rows.html", "{% for row in rows %}<tr><td>{{ row }}</td></tr>{% endfor %}")
    engine = engine_class(folder)
    rows = ["<a>", *range(3000)]

    chunks = [chunk async for chunk in engine.stream_template_async("rows.html", rows=rows)]

    assert "".join(chunks) == await engine.render_template_async("rows.html", rows=rows)
    assert chunks[0].startswith("<tr><td>&lt;a&gt;</td></tr>")


class TestSearchPath:
    async def test_primary_folder_wins(self, engine_class, folder, write_template, tmp_path):
        extra = tmp_path / "blueprint"
        write_template("page.html", "app", root=folder)
        write_template("page.html", "blueprint", root=extra)
        write_template("only_bp.html", "from blueprint", root=extra)
        engine = engine_class(folder)
        engine.add_search_path(extra)

        assert await engine.render_template_async("page.html") == "app"
        assert await engine.render_template_async("only_bp.html") == "from blueprint"
        assert engine.search_path == (folder.resolve(), extra.resolve())

    async def test_earlier_added_path_wins(self, engine_class, folder, write_template, tmp_path):
        first, second = tmp_path / "first", tmp_path / "second"
        write_template("page.html", "first", root=first)
        write_template("page.html", "second", root=second)
        engine = engine_class(folder)
        engine.add_search_path(first)
        engine.add_search_path(second)
        engine.add_search_path(first)

        assert await engine.render_template_async("page.html") == "first"
        assert engine.search_path == (folder.resolve(), first.resolve(), second.resolve())

    def test_missing_search_path_is_an_error(self, engine_class, folder, tmp_path):
        engine = engine_class(folder)

        with pytest.raises(FileNotFoundError, match="nowhere"):
            engine.add_search_path(tmp_path / "nowhere")


class TestAutoReload:
    async def test_edit_is_picked_up(self, engine_class, folder, write_template):
        write_template("page.txt", "v1")
        engine = engine_class(folder, auto_reload=True)
        assert await engine.render_template_async("page.txt") == "v1"

        write_template("page.txt", "v2", bump=10)

        assert await engine.render_template_async("page.txt") == "v2"

    async def test_edit_of_parent_template_is_picked_up(self, engine_class, folder, write_template):
        write_template("base.txt", "[{% block b %}{% endblock %}]")
        write_template("child.txt", '{% extends "base.txt" %}{% block b %}x{% endblock %}')
        engine = engine_class(folder, auto_reload=True)
        assert await engine.render_template_async("child.txt") == "[x]"

        write_template("base.txt", "<{% block b %}{% endblock %}>", bump=10)

        assert await engine.render_template_async("child.txt") == "<x>"

    async def test_deleted_template_is_not_found(self, engine_class, folder, write_template):
        path = write_template("page.txt", "v1")
        engine = engine_class(folder, auto_reload=True)
        assert await engine.render_template_async("page.txt") == "v1"

        path.unlink()

        with pytest.raises(TemplateNotFound):
            await engine.render_template_async("page.txt")

    async def test_edit_is_ignored_without_auto_reload(self, engine_class, folder, write_template):
        write_template("page.txt", "v1")
        engine = engine_class(folder, auto_reload=False)
        assert await engine.render_template_async("page.txt") == "v1"

        write_template("page.txt", "v2", bump=10)

        assert await engine.render_template_async("page.txt") == "v1"


class TestCacheSize:
    async def test_zero_keeps_nothing(self, engine_class, folder, write_template):
        write_template("page.txt", "v1")
        engine = engine_class(folder, auto_reload=False, cache_size=0)
        assert await engine.render_template_async("page.txt") == "v1"

        write_template("page.txt", "v2", bump=10)

        assert await engine.render_template_async("page.txt") == "v2"

    async def test_oldest_template_is_evicted(self, engine_class, folder, write_template):
        write_template("a.txt", "a1")
        write_template("b.txt", "b1")
        engine = engine_class(folder, auto_reload=False, cache_size=1)
        assert await engine.render_template_async("a.txt") == "a1"
        assert await engine.render_template_async("b.txt") == "b1"

        write_template("a.txt", "a2", bump=10)
        write_template("b.txt", "b2", bump=10)

        assert await engine.render_template_async("b.txt") == "b1"
        assert await engine.render_template_async("a.txt") == "a2"


class TestErrors:
    async def test_unknown_template_names_template_and_folder(self, engine_class, folder):
        engine = engine_class(folder)

        with pytest.raises(TemplateNotFound) as caught:
            await engine.render_template_async("nope/missing.html")

        assert isinstance(caught.value, LookupError)
        assert caught.value.name == "nope/missing.html"
        assert "'nope/missing.html'" in str(caught.value)
        assert str(folder.resolve()) in str(caught.value)

    async def test_missing_include_names_the_included_template(
        self, engine_class, folder, write_template
    ):
        write_template("page.html", '{% include "partials/gone.html" %}')
        engine = engine_class(folder)

        with pytest.raises(TemplateNotFound, match=r"partials/gone\.html"):
            await engine.render_template_async("page.html")

    async def test_include_ignore_missing_still_works(self, engine_class, folder, write_template):
        write_template("page.html", 'a{% include "gone.html" ignore missing %}b')
        engine = engine_class(folder)

        assert await engine.render_template_async("page.html") == "ab"

    @pytest.mark.parametrize("name", ["../secret.html", "sub/../../secret.html", "..\\secret.html"])
    async def test_name_escaping_the_folder_is_refused(
        self, engine_class, folder, write_template, name
    ):
        write_template("secret.html", "SECRET", root=folder.parent)
        (folder / "sub").mkdir()
        engine = engine_class(folder)

        with pytest.raises(TemplateNotFound, match="not found"):
            await engine.render_template_async(name)

    async def test_absolute_name_is_refused(self, engine_class, folder, write_template):
        secret = write_template("secret.html", "SECRET", root=folder.parent)
        engine = engine_class(folder)

        with pytest.raises(TemplateNotFound, match="relative"):
            await engine.render_template_async(str(secret))

    async def test_include_escaping_the_folder_is_refused(
        self, engine_class, folder, write_template
    ):
        write_template("secret.html", "SECRET", root=folder.parent)
        write_template("page.html", '{% include "../secret.html" %}')
        engine = engine_class(folder)

        with pytest.raises(TemplateNotFound, match=r"\.\."):
            await engine.render_template_async("page.html")

    async def test_syntax_error_names_file_and_line(self, engine_class, folder, write_template):
        path = write_template("broken.html", "line 1\nline 2\n{% for x in %}\n{% endfor %}\n")
        engine = engine_class(folder)

        with pytest.raises(TemplateSyntaxError) as caught:
            await engine.render_template_async("broken.html")

        assert caught.value.lineno == 3
        assert caught.value.filename == str(path)
        assert f"{path}, line 3" in str(caught.value)

    async def test_syntax_error_in_included_template(self, engine_class, folder, write_template):
        write_template("page.html", 'ok {% include "part.html" %}')
        path = write_template("part.html", "\n{{ oops( }}")
        engine = engine_class(folder)

        with pytest.raises(TemplateSyntaxError, match=r"part\.html, line 2") as caught:
            await engine.render_template_async("page.html")

        assert caught.value.filename == str(path)

    def test_missing_folder_is_an_error(self, engine_class, tmp_path):
        with pytest.raises(FileNotFoundError, match="missing"):
            engine_class(tmp_path / "missing")

    def test_missing_library_names_the_install_command(self, engine_class, folder, monkeypatch):
        library = "jinja2" if engine_class.__name__ == "TemplateEngine" else "minijinja"
        extra = "templates" if library == "jinja2" else "rust"
        monkeypatch.setitem(sys.modules, library, None)

        with pytest.raises(ImportError, match=rf'pip install "gobstopper\[{extra}\]"'):
            engine_class(folder)


def test_sync_render_matches_the_async_render(engine_class, folder, write_template):
    write_template("page.html", "<p>{{ name }}</p>")
    engine = engine_class(folder)

    assert engine.renders_synchronously
    assert engine.render("page.html", {"name": "<Ann>"}) == "<p>&lt;Ann&gt;</p>"


def test_sync_render_raises_the_shared_errors(engine_class, folder, write_template):
    write_template("broken.html", "{% if %}")
    engine = engine_class(folder)

    with pytest.raises(TemplateNotFound):
        engine.render("missing.html", {})
    with pytest.raises(TemplateSyntaxError):
        engine.render("broken.html", {})
