"""Jinja2-only behaviour: progressive streaming, async callables."""

from __future__ import annotations

import pytest

from gobstopper.templates import TemplateEngine

REPORT = "{% for row in data %}<tr><td>{{ row.id }}</td><td>{{ row.name }}</td></tr>\n{% endfor %}"


@pytest.fixture
def report_engine(folder, write_template) -> TemplateEngine:
    write_template("report.html", REPORT)
    return TemplateEngine(folder)


def rows(count: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"user {i}"} for i in range(count)]


async def test_stream_of_10000_rows_yields_many_chunks(report_engine: TemplateEngine) -> None:
    data = rows(10_000)

    chunks = [
        chunk async for chunk in report_engine.stream_template_async("report.html", data=data)
    ]

    assert len(chunks) > 1
    assert "".join(chunks) == await report_engine.render_template_async("report.html", data=data)
    row_size = max(len(line) for line in chunks[0].splitlines(keepends=True))
    assert all(len(chunk) < report_engine.stream_chunk_size + row_size for chunk in chunks)


async def test_stream_starts_before_the_data_is_exhausted(report_engine: TemplateEngine) -> None:
    consumed: list[int] = []

    def data():
        for row in rows(10_000):
            consumed.append(row["id"])
            yield row

    stream = report_engine.stream_template_async("report.html", data=data())
    first = await anext(stream)
    await stream.aclose()

    assert first.startswith("<tr><td>0</td>")
    assert len(consumed) < 10_000


async def test_stream_without_enable_streaming_yields_once(folder, write_template) -> None:
    write_template("report.html", REPORT)
    engine = TemplateEngine(folder, enable_streaming=False)

    chunks = [
        chunk async for chunk in engine.stream_template_async("report.html", data=rows(10_000))
    ]

    assert len(chunks) == 1
    assert chunks[0].count("<tr>") == 10_000


async def test_async_global_and_filter_are_awaited(folder, write_template) -> None:
    write_template("p.txt", "{{ current_user() }} {{ 'x'|fetch }}")
    engine = TemplateEngine(folder)

    async def current_user() -> str:
        return "alice"

    async def fetch(value: str) -> str:
        return value * 3

    engine.add_global("current_user", current_user)
    engine.add_filter("fetch", fetch)

    assert await engine.render_template_async("p.txt") == "alice xxx"


async def test_missing_template_from_a_list_names_them_all(folder, write_template) -> None:
    write_template("p.txt", '{% include ["a.txt", "b.txt"] %}')
    engine = TemplateEngine(folder)

    with pytest.raises(LookupError, match=r"a\.txt, b\.txt"):
        await engine.render_template_async("p.txt")


async def test_an_async_filter_moves_renders_to_the_async_environment(folder, write_template):
    write_template("p.txt", "{{ 'x'|fetch }}")
    engine = TemplateEngine(folder)

    async def fetch(value: str) -> str:
        return value * 2

    engine.add_filter("fetch", fetch)

    assert not engine.renders_synchronously
    with pytest.raises(RuntimeError, match="render_template_async"):
        engine.render("p.txt", {})
    assert await engine.render_template_async("p.txt") == "xx"


class _AttrDict(dict):
    """A dict subclass with a real attribute: Jinja2's attribute-first rule applies."""

    @property
    def name(self) -> str:
        return "from attribute"


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("{{ d.name }}", {"d": {"name": "Ada"}}, "Ada"),
        ("[{{ d.missing }}]", {"d": {}}, "[]"),
        ("{{ d.missing is defined }}", {"d": {}}, "False"),
        ("{{ d.keys()|list }}", {"d": {"a": 1}}, "['a']"),
        ("{{ d.items is callable }}", {"d": {"items": "shadowed"}}, "True"),
        ("{{ d.get('a') }}", {"d": {"a": 1}}, "1"),
        ("{{ d.name }}", {"d": _AttrDict(name="from key")}, "from attribute"),
        ("{{ d.other }}", {"d": _AttrDict(other="from key")}, "from key"),
    ],
)
def test_dotted_lookup_on_dicts_keeps_jinja2_semantics(
    folder, write_template, source, context, expected
):
    write_template("p.txt", source)
    engine = TemplateEngine(folder)

    assert engine.render("p.txt", context) == expected


async def test_async_environment_resolves_dict_keys_the_same_way(folder, write_template):
    write_template("p.txt", "{% for row in rows %}{{ row.id }},{% endfor %}")
    engine = TemplateEngine(folder)

    chunks = [chunk async for chunk in engine.stream_template_async("p.txt", rows=rows(3))]

    assert "".join(chunks) == "0,1,2,"
