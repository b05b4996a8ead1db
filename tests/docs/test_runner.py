"""The docs runner itself: a broken page must fail, a correct one must pass."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import pytest

from .blocks import Block, prose, read_blocks
from .runner import PageRunner, page_environment, shell_commands


def run_page(tmp_path: Path, markdown: str) -> None:
    """Run ``markdown`` as a page, in a directory of its own under ``tmp_path``."""
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    page = base / "page.md"
    page.write_text(markdown, encoding="utf-8")
    workdir = base / "work"
    workdir.mkdir()
    with page_environment(workdir), asyncio.Runner() as runner:
        PageRunner(page, workdir).run(runner)


def test_python_blocks_share_one_module_and_loop(tmp_path: Path) -> None:
    run_page(
        tmp_path,
        """
```python
import asyncio
async def answer():
    return 42
```

Text between blocks.

```py
value = await answer()
assert value == 42 and __name__ == "docs_example"
```
""",
    )


def test_a_false_claim_fails_at_its_markdown_line(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as failed:
        run_page(tmp_path, "# Title\n\n```python\nassert 1 + 1 == 3\n```\n")
    assert Path(failed.traceback[-1].path).name == "page.md"
    assert failed.traceback[-1].lineno + 1 == 4


def test_test_functions_are_called(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="called"):
        run_page(tmp_path, "```python\ndef test_it():\n    raise AssertionError('called')\n```\n")
    run_page(tmp_path, "")  # an empty page passes
    with pytest.raises(AssertionError, match="awaited"):
        run_page(
            tmp_path, "```python\nasync def test_it():\n    raise AssertionError('awaited')\n```\n"
        )


def test_file_markers_write_files_and_compile_only_does_not_run(tmp_path: Path) -> None:
    run_page(
        tmp_path,
        """
<!-- docs: file pkg/hello.txt -->
```text
hi
```

<!-- docs: compile-only (needs a server) -->
```python
raise RuntimeError("never runs")
```

```python
from pathlib import Path
assert Path("pkg/hello.txt").read_text() == "hi\\n"
```
""",
    )
    with pytest.raises(SyntaxError):
        run_page(tmp_path, "<!-- docs: compile-only -->\n```python\ndef (:\n```\n")


@pytest.mark.parametrize(
    "command",
    [
        "gobstopper run app:app --port nope",
        "gobstopper serve app:app",
        "WOPR_TASKS_ENABLED=1 python -m gobstopper tasks list --bogus",
    ],
)
def test_an_invalid_command_line_fails(tmp_path: Path, command: str) -> None:
    with pytest.raises(AssertionError, match="rejected by the argument parser"):
        run_page(tmp_path, f"```bash\n{command}\n```\n")


def test_shell_blocks_are_parsed_not_run(tmp_path: Path) -> None:
    run_page(
        tmp_path,
        """
```bash
bash scripts/showcase.sh            # not a gobstopper command: ignored
gobstopper run nowhere:app --port 9 # parsed only: nothing starts, nothing is imported
gobstopper --help
```
""",
    )


def test_console_output_must_match(tmp_path: Path) -> None:
    page = """
<!-- docs: file tiny.py -->
```python
from gobstopper import Gobstopper
app = Gobstopper("tiny")
```

```console
$ gobstopper routes tiny:app
=== Routing Visualization ===
{line}
```
"""
    run_page(tmp_path, page.format(line="=== End Visualization ==="))
    with pytest.raises(AssertionError, match="printed"):
        run_page(tmp_path, page.format(line="Route ['GET'] / -> index MW order: []"))
    assert "tiny" not in sys.modules


def test_environment_and_directory_are_restored(tmp_path: Path) -> None:
    before = os.getcwd()
    run_page(tmp_path, "```python\nimport os\nos.environ['DOCS_RUNNER_PROBE'] = '1'\n```\n")
    assert "DOCS_RUNNER_PROBE" not in os.environ
    assert os.getcwd() == before


def test_blocks_markers_and_commands_are_read() -> None:
    block = Block(
        "console",
        "$ gobstopper tasks stats \\\n  --db x.duckdb\ntotal: 0\n"
        "$ echo done\n$ python -m gobstopper --version\n",
        1,
    )
    assert list(shell_commands(block)) == [
        (["tasks", "stats", "--db", "x.duckdb"], ["total: 0"]),
        (["--version"], []),
    ]


def test_an_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="never closed"):
        read_blocks(page)


def test_prose_leaves_out_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[a](a.md) `[b](b.md)`\n```python\nx = y[0](1)\n```\n[c](c.md)\n")
    assert prose(page) == "[a](a.md) \n[c](c.md)"
