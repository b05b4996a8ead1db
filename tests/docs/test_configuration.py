"""docs/configuration.md lists exactly the environment variables Gobstopper reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "gobstopper"
PAGE = ROOT / "docs" / "configuration.md"
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]+")
TABLE_ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]+)` \|", re.MULTILINE)


def variables_read() -> set[str]:
    """Names passed as the first argument of a call in config.py: ``_flag("X")``,
    ``os.environ.get("X")``, ``_number("X", 10)``, ..."""
    tree = ast.parse((SOURCE / "config.py").read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and ENV_NAME.fullmatch(node.args[0].value)
    }


def reads_environment(path: Path) -> bool:
    """Does the module's code (not its strings) touch ``os.environ`` or ``os.getenv``?"""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "getenv") for alias in node.names)
        ):
            return True
    return False


def test_the_page_documents_every_variable_and_no_other() -> None:
    documented = set(TABLE_ROW.findall(PAGE.read_text(encoding="utf-8")))
    assert "WOPR_TASKS_ENABLED" in variables_read()
    assert documented == variables_read()


def test_config_is_the_only_module_reading_the_environment() -> None:
    readers = {
        path.relative_to(SOURCE).as_posix()
        for path in SOURCE.rglob("*.py")
        if reads_environment(path)
    }
    assert readers == {"config.py"}
