"""Session storage backends, imported on first use.

``from gobstopper.sessions import FileSessionStorage`` (or MemorySessionStorage,
AsyncRedisSessionStorage, and the two base classes) loads only the module it
names; Redis support needs the ``redis`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gobstopper._lazy import lazy_exports

if TYPE_CHECKING:
    from gobstopper.sessions.redis_storage import AsyncRedisSessionStorage
    from gobstopper.sessions.storage import (
        AsyncBaseSessionStorage,
        BaseSessionStorage,
        FileSessionStorage,
        MemorySessionStorage,
    )

_MODULES = {
    "BaseSessionStorage": "gobstopper.sessions.storage",
    "AsyncBaseSessionStorage": "gobstopper.sessions.storage",
    "FileSessionStorage": "gobstopper.sessions.storage",
    "MemorySessionStorage": "gobstopper.sessions.storage",
    "AsyncRedisSessionStorage": "gobstopper.sessions.redis_storage",
}

__all__ = [
    "AsyncBaseSessionStorage",
    "AsyncRedisSessionStorage",
    "BaseSessionStorage",
    "FileSessionStorage",
    "MemorySessionStorage",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
