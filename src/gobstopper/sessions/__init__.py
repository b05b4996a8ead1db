"""Session storage backends, imported on first use.

``from gobstopper.sessions import FileSessionStorage`` (or MemorySessionStorage,
AsyncRedisSessionStorage, and the two base classes) loads only the module it
names; Redis support needs the ``redis`` extra.
"""

from __future__ import annotations

from gobstopper._lazy import lazy_exports

_MODULES = {
    "BaseSessionStorage": "gobstopper.sessions.storage",
    "AsyncBaseSessionStorage": "gobstopper.sessions.storage",
    "FileSessionStorage": "gobstopper.sessions.storage",
    "MemorySessionStorage": "gobstopper.sessions.storage",
    "AsyncRedisSessionStorage": "gobstopper.sessions.redis_storage",
}

__all__ = sorted(_MODULES)


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
