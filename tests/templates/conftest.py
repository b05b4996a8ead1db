"""Fixtures for the template tests: a folder and both engines."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gobstopper.templates import RustTemplateEngine, TemplateEngine

ENGINES = {"jinja2": TemplateEngine, "minijinja": RustTemplateEngine}

WriteTemplate = Callable[..., Path]


@pytest.fixture(params=sorted(ENGINES))
def engine_class(request: pytest.FixtureRequest) -> type[TemplateEngine | RustTemplateEngine]:
    """Each engine class in turn, so a test runs on Jinja2 and on minijinja."""
    return ENGINES[request.param]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty primary template folder."""
    path = tmp_path / "templates"
    path.mkdir()
    return path


@pytest.fixture
def write_template(folder: Path) -> WriteTemplate:
    """Return a function that writes a template file and can move its mtime.

    ``bump`` seconds are added to the mtime, so a rewrite is seen as a change even
    on filesystems with coarse mtime resolution.
    """

    def write(name: str, text: str, *, root: Path = folder, bump: int = 0) -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.stat().st_mtime_ns if path.exists() else None
        path.write_text(text, encoding="utf-8")
        if bump:
            base = before if before is not None else path.stat().st_mtime_ns
            mtime = base + bump * 1_000_000_000
            os.utime(path, ns=(mtime, mtime))
        return path

    return write
