"""minijinja-only behaviour: one-piece streaming and sync-only callables."""

from __future__ import annotations

import pytest

from gobstopper.templates import RustTemplateEngine


async def test_stream_renders_whole_and_yields_once(folder, write_template) -> None:
    write_template("report.html", "{% for row in data %}<tr><td>{{ row }}</td></tr>{% endfor %}")
    engine = RustTemplateEngine(folder)

    chunks = [
        chunk async for chunk in engine.stream_template_async("report.html", data=range(10_000))
    ]

    assert len(chunks) == 1
    assert chunks[0].count("<tr>") == 10_000


async def test_async_filter_is_refused(folder) -> None:
    engine = RustTemplateEngine(folder)

    async def fetch(value: str) -> str:
        return value

    with pytest.raises(TypeError, match="'fetch' is an async function"):
        engine.add_filter("fetch", fetch)


async def test_async_global_is_refused(folder) -> None:
    engine = RustTemplateEngine(folder)

    async def current_user() -> str:
        return "alice"

    with pytest.raises(TypeError, match="use_rust=False"):
        engine.add_global("current_user", current_user)


async def test_minijinja_runtime_errors_pass_through(folder, write_template) -> None:
    import minijinja

    write_template("p.txt", "{{ missing.attribute }}")
    engine = RustTemplateEngine(folder)

    with pytest.raises(minijinja.TemplateError, match="undefined"):
        await engine.render_template_async("p.txt")
