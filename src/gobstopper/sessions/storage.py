"""Session storage backends: the storage interfaces, file storage and in-memory storage.

A storage accepts any ``str`` as a session id. File and Redis storages never put
the id itself in a path or key: they use its SHA-256 digest (:func:`session_digest`),
so no id can reach outside the directory or onto another key, and the stored names
do not reveal the ids (bearer credentials). The middleware's own ids are stricter
(:func:`is_valid_session_id`), checked where cookies arrive. Session data
is a dict of JSON types, stored as JSON (msgspec) and decoded afresh on every load,
so mutating a loaded dict changes nothing until it is saved again. A session
expires ``ttl`` seconds after its last save (the default matches the session
cookie's lifetime); loading an expired session returns ``None`` and removes it.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from gobstopper.awaitables import resolved
from gobstopper.logs import logger_named

if TYPE_CHECKING:
    import logging

DEFAULT_TTL = 604800  # seconds: 7 days, the default session cookie lifetime

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
_MAX_DEPTH = 64  # nesting limit for session data: deeper data is a bug, not a session
_SUFFIX = ".session"
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP = 60.0  # seconds: a temp file this old belongs to a crashed write

_encode = msgspec.json.Encoder().encode
_decode_data = msgspec.json.Decoder(dict[str, Any]).decode


class _Record(msgspec.Struct):
    """What a session file holds: the data and when it expires (Unix time)."""

    expires: float
    data: dict[str, Any]


_decode_record = msgspec.json.Decoder(_Record).decode


def is_valid_session_id(session_id: object) -> bool:
    """Whether ``session_id`` is 16-128 URL-safe base64 characters (``[A-Za-z0-9_-]``).

    The format of the ids the middleware issues and accepts from cookies; storages
    themselves accept any str.
    """
    return isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id) is not None


def _checked_id(session_id: str) -> str:
    """``session_id`` if it is a str (any str); TypeError otherwise."""
    if not isinstance(session_id, str):
        raise TypeError(f"session id must be a str, not {type(session_id).__name__}")
    return session_id


def session_digest(session_id: str) -> str:
    """The SHA-256 hex digest naming ``session_id``'s file or Redis key.

    Any str (empty, ``../x``, NUL, lone surrogates, megabytes) maps to 64
    characters of ``[0-9a-f]``: a safe file name and a fixed-size key.
    """
    raw = _checked_id(session_id).encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


def _check_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
    return ttl


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Raise TypeError unless ``value`` is made only of JSON types that round-trip."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"session value at {where} is {value!r}; JSON has no NaN or infinity")
        return
    if depth >= _MAX_DEPTH:
        raise TypeError(f"session data is nested more than {_MAX_DEPTH} levels deep at {where}")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"session key {key!r} at {where} is not a str")
            _check_json(item, f"{where}[{key!r}]", depth + 1)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", depth + 1)
        return
    raise TypeError(
        f"session value at {where} has type {type(value).__name__}; "
        "allowed: str, int, float, bool, None, list, dict"
    )


def _check_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"session data must be a dict, not {type(data).__name__}")
    _check_json(data, "session")
    return data


def _encode_data(data: Any) -> bytes:
    """JSON bytes for ``data``; TypeError if it is not a dict of JSON types."""
    return _encode(_check_data(data))


def _logger() -> logging.Logger:
    return logger_named("gobstopper.sessions")


#: ``await result`` if it is awaitable, else ``result``: sync and async storages alike
#: (the framework's one rule for sync-or-async callbacks, under the reference's name).
maybe_await = resolved


class BaseSessionStorage(ABC):
    """A synchronous session store, keyed by session id."""

    @abstractmethod
    def load(self, session_id: str) -> dict[str, Any] | None:
        """The session's data, or None if it is missing, expired or corrupt."""

    @abstractmethod
    def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Store ``data`` for the session (TypeError: not JSON data, or an id not a str)."""

    @abstractmethod
    def delete(self, session_id: str) -> None:
        """Forget the session; deleting a missing one is not an error."""

    @abstractmethod
    def cleanup(self) -> int | None:
        """Remove expired sessions; built-in stores return how many they removed."""


class AsyncBaseSessionStorage(ABC):
    """An asynchronous session store, keyed by session id (same contract as the sync one)."""

    @abstractmethod
    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The session's data, or None if it is missing, expired or corrupt."""

    @abstractmethod
    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        """Store ``data`` for the session (TypeError: not JSON data, or an id not a str)."""

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Forget the session; deleting a missing one is not an error."""

    async def cleanup(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Remove expired sessions; a no-op for stores that expire entries themselves."""


class MemorySessionStorage(BaseSessionStorage):
    """Sessions in a dict in this process: for development, tests and single-process apps.

    Sessions are lost on restart and not shared between workers. The store is
    unbounded except by expiry: expired sessions are dropped when loaded or on
    :meth:`cleanup`, so call that periodically in a long-running process.
    """

    def __init__(self, *, ttl: int = DEFAULT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.ttl = _check_ttl(ttl)
        self._clock = clock
        self._sessions: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()  # load-then-expire must not drop a concurrent save

    def load(self, session_id: str) -> dict[str, Any] | None:
        _checked_id(session_id)
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._sessions[session_id]
                return None
        return _decode_data(entry[1])

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        entry = (self._clock() + self.ttl, _encode_data(data))
        with self._lock:
            self._sessions[_checked_id(session_id)] = entry

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_checked_id(session_id), None)

    def cleanup(self) -> int:
        """Drop every expired session; returns how many were dropped."""
        now = self._clock()
        with self._lock:
            expired = [sid for sid, (expires, _) in self._sessions.items() if expires <= now]
            for sid in expired:
                del self._sessions[sid]
        return len(expired)


class FileSessionStorage(BaseSessionStorage):
    """One JSON file per session in ``directory``: survives restarts, shared by workers.

    A session's file is ``<session_digest(id)>.session``. The directory is
    created with mode 0o700 and files are 0o600, since session data may be
    sensitive. Each save writes a temporary file in the same directory and
    renames it into place, so readers and crashes never see half a session.
    The expiry time is stored in the file, not inferred from its mtime.
    An unreadable or corrupt file loads as None; :meth:`cleanup` removes it.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.ttl = _check_ttl(ttl)
        self._clock = clock
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, session_id: str) -> Path:
        return self.directory / f"{session_digest(session_id)}{_SUFFIX}"

    def _read(self, path: Path) -> _Record | None:
        """The record in ``path``; None if missing, or unreadable/corrupt (logged)."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            _logger().warning("cannot read session file %s: %s", path, exc)
            return None
        try:
            return _decode_record(raw)
        except msgspec.DecodeError as exc:
            _logger().warning("ignoring corrupt session file %s: %s", path, exc)
            return None

    def load(self, session_id: str) -> dict[str, Any] | None:
        path = self._path(session_id)
        record = self._read(path)
        if record is None:
            return None
        if record.expires <= self._clock():
            path.unlink(missing_ok=True)
            return None
        return record.data

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        path = self._path(session_id)
        payload = _encode(_Record(self._clock() + self.ttl, _check_data(data)))
        try:
            fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)  # mode 0o600
        except FileNotFoundError:  # the directory was removed (e.g. a /tmp sweep): recreate
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(payload)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise

    def delete(self, session_id: str) -> None:
        self._path(session_id).unlink(missing_ok=True)

    def cleanup(self) -> int:
        """Remove expired and corrupt session files (and stale temp files); returns the count.

        Count includes session files only, not leftover temp files of crashed writes.
        """
        now = self._clock()
        removed = 0
        try:
            paths = list(self.directory.iterdir())
        except FileNotFoundError:  # nothing stored since the directory was removed
            return 0
        for path in paths:
            if path.name.startswith(_TEMP_PREFIX):
                self._remove_stale_temp(path, now)
            # Digest names match, and so do names of the former ``<id>.session`` scheme.
            elif path.suffix == _SUFFIX and is_valid_session_id(path.stem):
                record = self._read(path)
                if record is None or record.expires <= now:
                    removed += self._unlink(path)
        return removed

    def _remove_stale_temp(self, path: Path, now: float) -> None:
        try:
            if path.stat().st_mtime < now - _STALE_TEMP:
                path.unlink()
        except FileNotFoundError:  # renamed into place or removed by another process
            pass

    @staticmethod
    def _unlink(path: Path) -> int:
        try:
            path.unlink()
        except FileNotFoundError:
            return 0
        return 1
