"""Engine selection and options, as init_templates uses them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gobstopper.templates import RustTemplateEngine, TemplateEngine, create_engine


def test_auto_detect_prefers_minijinja(folder) -> None:
    assert isinstance(create_engine(folder), RustTemplateEngine)


def test_auto_detect_falls_back_to_jinja2(folder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "minijinja", None)

    assert isinstance(create_engine(folder), TemplateEngine)


def test_use_rust_false_forces_jinja2(folder) -> None:
    assert isinstance(create_engine(folder, use_rust=False), TemplateEngine)


def test_use_rust_true_without_minijinja_names_the_extra(folder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "minijinja", None)

    with pytest.raises(ImportError, match=r'pip install "gobstopper\[rust\]"'):
        create_engine(folder, use_rust=True)


def test_jinja2_missing_names_the_extra(folder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)

    with pytest.raises(ImportError, match=r'pip install "gobstopper\[templates\]"'):
        create_engine(folder, use_rust=False)


@pytest.mark.parametrize("use_rust", [None, True, False])
def test_missing_folder_raises_file_not_found(tmp_path, use_rust) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        create_engine(tmp_path / "no-such-folder", use_rust=use_rust)


def test_unknown_option_is_a_type_error(folder) -> None:
    with pytest.raises(TypeError, match="auto_reloda"):
        create_engine(folder, auto_reloda=False)


def test_conflicting_reload_aliases_are_refused(folder) -> None:
    with pytest.raises(ValueError, match="aliases"):
        create_engine(folder, auto_reload=True, enable_hot_reload=False)


@pytest.mark.parametrize("use_rust", [True, False])
@pytest.mark.parametrize(
    ("options", "reloads"),
    [
        ({}, True),
        ({"auto_reload": False}, False),
        ({"enable_hot_reload": False}, False),
        ({"auto_reload": False, "enable_hot_reload": False}, False),
        ({"auto_reload": False, "cache_size": 0}, True),
    ],
)
async def test_reload_options_are_honoured(folder, write_template, use_rust, options, reloads):
    write_template("page.txt", "v1")
    engine = create_engine(folder, use_rust=use_rust, **options)
    assert await engine.render_template_async("page.txt") == "v1"

    write_template("page.txt", "v2", bump=10)

    assert await engine.render_template_async("page.txt") == ("v2" if reloads else "v1")


async def test_enable_streaming_false_reaches_the_jinja2_engine(folder, write_template) -> None:
    write_template("rows.txt", "{% for i in rows %}row {{ i }}\n{% endfor %}")
    streaming = create_engine(folder, use_rust=False)
    whole = create_engine(folder, use_rust=False, enable_streaming=False)

    async def count_chunks(engine) -> int:
        return len([c async for c in engine.stream_template_async("rows.txt", rows=range(10_000))])

    assert await count_chunks(streaming) > 1
    assert await count_chunks(whole) == 1


def test_importing_templates_loads_no_template_library() -> None:
    code = (
        "import sys, gobstopper.templates, gobstopper.templates.error_pages;"
        "print(sorted({'jinja2', 'minijinja'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


def test_both_engines_offer_the_same_public_surface(folder) -> None:
    def public(engine: object) -> set[str]:
        return {name for name in dir(engine) if not name.startswith("_")}

    jinja2_engine = TemplateEngine(folder)
    rust_engine = RustTemplateEngine(folder)

    assert public(rust_engine) == public(jinja2_engine) - {"stream_chunk_size"}
    assert {"add_search_path", "add_filter", "add_global", "search_path"} <= public(rust_engine)
