"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists ``{name: module}``; a name's module is imported the first
time the name is used, so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, modules: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` loading ``modules`` on first use."""

    def load(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # cached: the next access is a plain global
        return value

    def names() -> list[str]:
        return sorted({*namespace, *modules})

    return load, names
