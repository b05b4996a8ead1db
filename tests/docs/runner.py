"""Run one Markdown page's code blocks in page order, as a reader would.

The convention (docs/README.md states it for writers):

- ``python`` blocks run in order as one module per page (later blocks see what
  earlier ones defined), in a fresh temporary working directory, all on one
  event loop: top-level ``await`` works. Functions named ``test_*`` that the
  page defines are called at the end, as pytest would call them.
- ``<!-- docs: file PATH -->`` above a block writes the block to ``PATH`` in
  that directory instead (a template, an ``app.py``); Python files are compiled.
- ``<!-- docs: compile-only (why) -->`` above a ``python`` block only compiles
  it: for code that needs a server or Redis. The suite caps how many there are.
- ``bash``/``sh``/``shell``/``console`` blocks: each ``gobstopper ...`` command
  line is checked by the real argument parser and never run, except in
  ``console`` blocks, where a ``$ gobstopper routes|tasks ...`` line followed by
  output is run in-process and must print exactly that output.
- Other languages are shown, not run.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import os
import shlex
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gobstopper.cli import build_parser, main

from .blocks import Block, read_blocks

PYTHON = frozenset({"python", "py"})
SHELL = frozenset({"bash", "sh", "shell", "console"})
# Sub-commands a console block may run to check its output: they never serve.
RUNNABLE = frozenset({"routes", "tasks"})
MODULE = "docs_example"


class PageRunner:
    """Runs the blocks of ``page`` inside ``workdir``."""

    def __init__(self, page: Path, workdir: Path) -> None:
        self.page = page
        self.workdir = workdir
        self.module = types.ModuleType(MODULE)
        self.module.__file__ = str(workdir / f"{MODULE}.py")

    def run(self, runner: asyncio.Runner) -> None:
        """Run every block, then the page's ``test_*`` functions."""
        handlers: dict[str | None, Callable[[Block, asyncio.Runner], None]] = {
            "file": self._write_file,
            "compile-only": self._compile_only,
            None: self._run_block,
        }
        sys.modules[MODULE] = self.module
        try:
            for block in read_blocks(self.page):
                handlers[block.marker](block, runner)
            for name, value in list(vars(self.module).items()):
                if name.startswith("test_") and callable(value):
                    result = value()
                    if inspect.isawaitable(result):
                        runner.run(_awaited(result))
        finally:
            del sys.modules[MODULE]

    def _compile(self, block: Block) -> types.CodeType:
        # Padded so that tracebacks give the line number in the Markdown page.
        source = "\n" * (block.line - 1) + block.text
        code: types.CodeType = compile(
            source, str(self.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        return code

    def _write_file(self, block: Block, runner: asyncio.Runner) -> None:
        path = self.workdir / block.argument
        if path.suffix == ".py":
            self._compile(block)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")

    def _compile_only(self, block: Block, runner: asyncio.Runner) -> None:
        if block.language not in PYTHON:
            raise AssertionError(f"{self.page}:{block.line}: compile-only marks python blocks")
        self._compile(block)

    def _run_block(self, block: Block, runner: asyncio.Runner) -> None:
        if block.language in PYTHON:
            result = eval(self._compile(block), vars(self.module))
            if inspect.iscoroutine(result):
                runner.run(result)
        elif block.language in SHELL:
            for command, output in shell_commands(block):
                self._check_command(block, command, output)

    def _check_command(self, block: Block, argv: list[str], output: list[str]) -> None:
        where = f"{self.page}:{block.line}: gobstopper {shlex.join(argv)}"
        if block.language == "console" and output and argv and argv[0] in RUNNABLE:
            printed = _captured(lambda: main(argv))
            assert printed.rstrip("\n").split("\n") == output, f"{where} printed:\n{printed}"
            return
        _captured(lambda: _parse(argv, where))


def _parse(argv: list[str], where: str) -> int:
    try:
        build_parser().parse_args(argv)
    except SystemExit as exited:
        assert exited.code == 0, f"{where}: rejected by the argument parser"
    return 0


def _captured(call: Callable[[], int]) -> str:
    """What ``call`` prints on stdout and stderr (argparse exits are left to the caller)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        call()
    return sink.getvalue()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def shell_commands(block: Block) -> Iterator[tuple[list[str], list[str]]]:
    """Each ``gobstopper`` command of a shell block, with the output shown under it.

    In ``console`` blocks commands start with ``$ `` and the lines up to the next
    prompt are their output; in other shell blocks every line is a command.
    """
    prompt = block.language == "console"
    lines = _joined(block.text.splitlines())
    for index, line in enumerate(lines):
        if prompt and not line.startswith("$ "):
            continue
        argv = _gobstopper_argv(line.removeprefix("$ ") if prompt else line)
        if argv is None:
            continue
        output = []
        for following in lines[index + 1 :] if prompt else ():
            if following.startswith("$ "):
                break
            output.append(following)
        yield argv, output


def _joined(lines: list[str]) -> list[str]:
    """Lines with backslash continuations joined."""
    joined: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1] + " "
        else:
            joined.append(pending + line)
            pending = ""
    return joined


def _gobstopper_argv(line: str) -> list[str] | None:
    """The arguments after ``gobstopper`` (or ``python -m gobstopper``), else None."""
    words = shlex.split(line, comments=True)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)  # VAR=value before the command
    if words[:3] == ["python", "-m", "gobstopper"]:
        return words[3:]
    if words and Path(words[0]).name == "gobstopper":
        return words[1:]
    return None


@contextlib.contextmanager
def page_environment(workdir: Path) -> Iterator[None]:
    """Run inside ``workdir`` with it importable; then restore the environment
    variables and forget the modules imported from it."""
    before = set(sys.modules)
    environment = dict(os.environ)
    old_cwd = os.getcwd()
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path.remove(str(workdir))
        os.environ.clear()
        os.environ.update(environment)
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(workdir)):
                del sys.modules[name]
