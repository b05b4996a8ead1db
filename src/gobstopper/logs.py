"""The framework's loggers, fetched without importing ``logging`` at import time.

PERF: ``import logging`` costs ~4 ms; most processes that import gobstopper log
nothing until something goes wrong, so modules ask for their logger when they
first write to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


def logger_named(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, importing ``logging`` on first use."""
    import logging

    return logging.getLogger(name)
