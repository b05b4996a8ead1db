"""File and in-memory session storage: ids, data, expiry, files on disk, the interfaces."""

from __future__ import annotations

import ast
import asyncio
import datetime
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gobstopper.sessions.storage import (
    DEFAULT_TTL,
    AsyncBaseSessionStorage,
    BaseSessionStorage,
    FileSessionStorage,
    MemorySessionStorage,
    is_valid_session_id,
    maybe_await,
    session_digest,
)
from tests.clock import FakeClock
from tests.sessions.session_ids import HOSTILE_IDS, INVALID_IDS

SID = "abcdefghijklmnop_-0123456789ABCD"
OTHER = "Z" * 16
T0 = 1_700_000_000.0
TTL = 100


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> BaseSessionStorage:
    """Each sync backend with a TTL of 100 s and a fake clock."""
    if request.param == "file":
        return FileSessionStorage(tmp_path / "sessions", ttl=TTL, clock=clock)
    return MemorySessionStorage(ttl=TTL, clock=clock)


# --- session ids ---------------------------------------------------------------------------

VALID_IDS = ["a" * 16, "Z" * 128, "AZaz09_-" * 2, SID]


@pytest.mark.parametrize("session_id", VALID_IDS)
def test_valid_ids_are_accepted(session_id: str, store: BaseSessionStorage):
    assert is_valid_session_id(session_id)
    store.save(session_id, {"n": 1})
    assert store.load(session_id) == {"n": 1}
    store.delete(session_id)
    assert store.load(session_id) is None


@pytest.mark.parametrize("session_id", INVALID_IDS)
def test_ids_the_middleware_never_issues_are_refused(session_id: str):
    assert not is_valid_session_id(session_id)


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
def test_any_str_is_a_session_id_through_the_public_api(session_id: str, store: BaseSessionStorage):
    store.save(session_id, {"n": 1})
    store.save(SID, {"n": 2})
    assert store.load(session_id) == {"n": 1}
    store.delete(session_id)
    assert store.load(session_id) is None
    assert store.load(SID) == {"n": 2}


def test_ids_differing_only_in_unsafe_characters_are_different_sessions(store: BaseSessionStorage):
    ids = ["a/b", "a_b", "a\\b", "a\x00b", "a.b", "ab", "AB", "a b"]
    for n, session_id in enumerate(ids):
        store.save(session_id, {"n": n})
    assert [store.load(session_id) for session_id in ids] == [{"n": n} for n in range(len(ids))]


@pytest.mark.parametrize("session_id", [None, 12345678901234567, b"a" * 16, ["a" * 16]])
def test_ids_that_are_not_str_are_a_type_error(session_id: Any, store: BaseSessionStorage):
    for call in (store.load, store.delete, lambda sid: store.save(sid, {"n": 1})):
        with pytest.raises(TypeError, match="session id must be a str"):
            call(session_id)


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
def test_file_storage_never_touches_a_path_outside_its_directory(session_id: str, tmp_path: Path):
    directory = tmp_path / "a" / "b" / "sessions"
    store = FileSessionStorage(directory)
    store.save(session_id, {"n": 1})
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == [
        f"a/b/sessions/{session_digest(session_id)}.session"
    ]
    assert store.load(session_id) == {"n": 1}
    store.delete(session_id)
    assert list(directory.iterdir()) == []


def test_the_digest_is_sha256_hex_of_the_utf8_id():
    import hashlib

    assert session_digest(SID) == hashlib.sha256(SID.encode()).hexdigest()
    assert len(session_digest("")) == 64 and session_digest("") != session_digest(" ")
    assert is_valid_session_id(session_digest("\ud800"))  # lone surrogates hash too


# --- data ----------------------------------------------------------------------------------


def test_json_data_round_trips(store: BaseSessionStorage):
    data = {
        "user": "ünïcødé ✓",
        "id": 2**70,
        "neg": -5,
        "ratio": 0.25,
        "ok": True,
        "no": False,
        "none": None,
        "list": [1, "two", [3.5, {"four": None}]],
        "nested": {"a": {"b": {}}},
        "empty": [],
    }
    store.save(SID, data)
    assert store.load(SID) == data


def test_dict_and_list_subclasses_are_stored_as_plain_json(store: BaseSessionStorage):
    class Session(dict):
        pass

    store.save(SID, Session(items=type("Items", (list,), {})([1, 2])))
    loaded = store.load(SID)
    assert loaded == {"items": [1, 2]}
    assert type(loaded) is dict
    assert type(loaded["items"]) is list


def test_load_returns_a_fresh_dict_each_time(store: BaseSessionStorage):
    data = {"cart": [1, 2]}
    store.save(SID, data)
    data["cart"].append(3)  # changing the saved dict afterwards changes nothing
    first = store.load(SID)
    assert first == {"cart": [1, 2]}
    first["cart"].append(99)
    first["new"] = True
    assert store.load(SID) == {"cart": [1, 2]}
    assert store.load(SID) is not store.load(SID)


def test_save_replaces_the_whole_session(store: BaseSessionStorage):
    store.save(SID, {"a": 1, "b": 2})
    store.save(SID, {"b": 3})
    assert store.load(SID) == {"b": 3}


def test_sessions_are_independent(store: BaseSessionStorage):
    store.save(SID, {"who": "first"})
    store.save(OTHER, {"who": "second"})
    store.delete(SID)
    assert store.load(SID) is None
    assert store.load(OTHER) == {"who": "second"}


def test_missing_sessions_load_none_and_delete_quietly(store: BaseSessionStorage):
    assert store.load(SID) is None
    store.delete(SID)
    assert store.load(SID) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"when": datetime.datetime(2024, 1, 1)}, r"session\['when'\] has type datetime"),
        ({"tags": {"a", "b"}}, r"session\['tags'\] has type set"),
        ({"pair": (1, 2)}, r"session\['pair'\] has type tuple"),
        ({"raw": b"x"}, r"session\['raw'\] has type bytes"),
        ({"deep": [1, {"x": object()}]}, r"session\['deep'\]\[1\]\['x'\] has type object"),
        ({"x": float("nan")}, r"session\['x'\] is nan; JSON has no NaN or infinity"),
        ({"x": [float("-inf")]}, r"session\['x'\]\[0\] is -inf"),
        ({1: "one"}, r"session key 1 at session is not a str"),
        ({"x": {("a",): 1}}, r"session key \('a',\) at session\['x'\] is not a str"),
        ([("a", 1)], "session data must be a dict, not list"),
        (None, "session data must be a dict, not NoneType"),
    ],
)
def test_non_json_data_is_refused_with_a_type_error(
    data: Any, message: str, store: BaseSessionStorage
):
    store.save(SID, {"kept": True})
    with pytest.raises(TypeError, match=message):
        store.save(SID, data)
    assert store.load(SID) == {"kept": True}


def test_self_containing_and_absurdly_deep_data_is_refused(store: BaseSessionStorage):
    loop: dict[str, Any] = {}
    loop["self"] = loop
    deep: list[Any] = []
    for _ in range(200):
        deep = [deep]
    for data in ({"loop": loop}, {"deep": deep}):
        with pytest.raises(TypeError, match="nested more than 64 levels"):
            store.save(SID, data)
    assert store.load(SID) is None


# --- expiry --------------------------------------------------------------------------------


def test_default_ttl_is_the_default_session_cookie_lifetime(tmp_path: Path):
    assert DEFAULT_TTL == 604800  # SecurityMiddleware's cookie_max_age default
    assert MemorySessionStorage().ttl == DEFAULT_TTL
    assert FileSessionStorage(tmp_path).ttl == DEFAULT_TTL


@pytest.mark.parametrize("ttl", [0, -1, 1.5, True, "60", None])
def test_ttl_must_be_a_positive_int(ttl: Any, tmp_path: Path):
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        MemorySessionStorage(ttl=ttl)
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        FileSessionStorage(tmp_path, ttl=ttl)


def test_a_session_expires_ttl_seconds_after_it_was_saved(
    store: BaseSessionStorage, clock: FakeClock
):
    store.save(SID, {"n": 1})
    clock.now = T0 + TTL - 0.001
    assert store.load(SID) == {"n": 1}
    clock.now = T0 + TTL
    assert store.load(SID) is None
    clock.now = T0  # removed on that load, not merely hidden
    assert store.load(SID) is None


def test_saving_again_extends_the_session(store: BaseSessionStorage, clock: FakeClock):
    store.save(SID, {"n": 1})
    clock.now = T0 + 60
    store.save(SID, {"n": 2})
    clock.now = T0 + 60 + TTL - 1
    assert store.load(SID) == {"n": 2}


def test_loading_does_not_extend_the_session(store: BaseSessionStorage, clock: FakeClock):
    store.save(SID, {"n": 1})
    clock.now = T0 + TTL - 1
    assert store.load(SID) == {"n": 1}
    clock.now = T0 + TTL
    assert store.load(SID) is None


def test_cleanup_removes_only_expired_sessions_and_counts_them(
    store: BaseSessionStorage, clock: FakeClock
):
    store.save(SID, {"n": 1})
    store.save("b" * 16, {"n": 2})
    clock.now = T0 + 50
    store.save(OTHER, {"n": 3})
    assert store.cleanup() == 0
    clock.now = T0 + TTL
    assert store.cleanup() == 2
    assert store.cleanup() == 0
    clock.now = T0 + 50  # the expired ones are gone, not merely hidden
    assert store.load(SID) is None
    assert store.load("b" * 16) is None
    assert store.load(OTHER) == {"n": 3}


def test_the_default_clock_is_wall_time(tmp_path: Path):
    for store in (MemorySessionStorage(ttl=1000), FileSessionStorage(tmp_path, ttl=1000)):
        store.save(SID, {"n": 1})
        assert store.load(SID) == {"n": 1}
        assert store.cleanup() == 0


# --- FileSessionStorage on disk ------------------------------------------------------------


def session_file(directory: Path, session_id: str = SID) -> Path:
    return directory / f"{session_digest(session_id)}.session"


def test_missing_directory_is_created_private(tmp_path: Path):
    directory = tmp_path / "deep" / "sessions"
    FileSessionStorage(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_an_existing_directory_is_used_as_is(tmp_path: Path):
    tmp_path.chmod(0o750)
    store = FileSessionStorage(str(tmp_path))
    store.save(SID, {"n": 1})
    assert store.directory == tmp_path
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o750


def test_each_session_is_one_private_json_file(tmp_path: Path, clock: FakeClock):
    store = FileSessionStorage(tmp_path, ttl=TTL, clock=clock)
    old_umask = os.umask(0)
    try:
        store.save(SID, {"n": 1})
    finally:
        os.umask(old_umask)
    assert [p.name for p in tmp_path.iterdir()] == [f"{session_digest(SID)}.session"]
    path = session_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b'{"expires":%r,"data":{"n":1}}' % (T0 + TTL)


def test_instances_sharing_a_directory_share_sessions(tmp_path: Path):
    FileSessionStorage(tmp_path).save(SID, {"worker": 1})
    other = FileSessionStorage(tmp_path)
    assert other.load(SID) == {"worker": 1}
    other.delete(SID)
    assert FileSessionStorage(tmp_path).load(SID) is None


def test_expiry_comes_from_the_file_not_its_mtime(tmp_path: Path, clock: FakeClock):
    store = FileSessionStorage(tmp_path, ttl=TTL, clock=clock)
    store.save(SID, {"n": 1})
    store.save(OTHER, {"n": 2})
    os.utime(session_file(tmp_path), (0, 0))  # an ancient mtime does not expire it
    assert store.load(SID) == {"n": 1}
    session_file(tmp_path, OTHER).write_bytes(b'{"expires":%r,"data":{"n":2}}' % (T0 - 1))
    assert store.load(OTHER) is None  # a fresh mtime does not keep it alive
    assert not session_file(tmp_path, OTHER).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"not json",
        b"[1, 2]",
        b'{"data": {"n": 1}}',
        b'{"expires": 1e30, "data": 5}',
        b'{"expires": "soon", "data": {}}',
        b"\xff\xfe\x00",
    ],
)
def test_a_corrupt_file_loads_none_with_a_warning_and_cleanup_removes_it(
    content: bytes, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    store = FileSessionStorage(tmp_path, ttl=TTL, clock=clock)
    session_file(tmp_path).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="gobstopper.sessions"):
        assert store.load(SID) is None
    assert "corrupt session file" in caplog.text
    assert session_digest(SID) in caplog.text and SID not in caplog.text  # ids stay secret
    assert store.cleanup() == 1
    assert not session_file(tmp_path).exists()


def test_an_unreadable_session_file_loads_none_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    session_file(tmp_path).mkdir()  # reading it fails with an OSError other than "missing"
    with caplog.at_level(logging.WARNING, logger="gobstopper.sessions"):
        assert FileSessionStorage(tmp_path).load(SID) is None
    assert "cannot read session file" in caplog.text


def test_a_failed_write_keeps_the_old_session_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = FileSessionStorage(tmp_path)
    store.save(SID, {"version": 1})

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.save(SID, {"version": 2})
    monkeypatch.undo()
    assert store.load(SID) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == [session_file(tmp_path).name]


def test_save_recreates_a_directory_removed_underneath_it(tmp_path: Path):
    directory = tmp_path / "sessions"
    store = FileSessionStorage(directory)
    directory.rmdir()
    assert store.cleanup() == 0
    store.save(SID, {"n": 1})
    assert store.load(SID) == {"n": 1}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_cleanup_removes_stale_temp_files_and_ignores_other_files(tmp_path: Path, clock: FakeClock):
    store = FileSessionStorage(tmp_path, ttl=TTL, clock=clock)
    stale, fresh = tmp_path / ".tmp-crashed", tmp_path / ".tmp-in-progress"
    bystanders = [tmp_path / "README", tmp_path / "short.session", tmp_path / f"{SID}.json"]
    for path in (stale, fresh, *bystanders):
        path.write_bytes(b"junk")
    os.utime(stale, (T0 - 61, T0 - 61))
    os.utime(fresh, (T0 - 5, T0 - 5))
    assert store.cleanup() == 0  # temp files are not sessions: not counted
    assert not stale.exists()
    assert fresh.exists()
    assert all(path.exists() for path in bystanders)


def test_files_named_by_the_former_id_scheme_are_not_loaded_and_expire_in_cleanup(
    tmp_path: Path, clock: FakeClock
):
    """Before ids were hashed a session lived in ``<id>.session``: it is left to expire."""
    store = FileSessionStorage(tmp_path, ttl=TTL, clock=clock)
    legacy = tmp_path / f"{SID}.session"
    legacy.write_bytes(b'{"expires":%r,"data":{"n":1}}' % (T0 + TTL))
    assert store.load(SID) is None
    assert store.cleanup() == 0 and legacy.exists()
    clock.now += TTL
    assert store.cleanup() == 1 and not legacy.exists()


# --- MemorySessionStorage ------------------------------------------------------------------


def test_memory_stores_are_separate():
    first, second = MemorySessionStorage(), MemorySessionStorage()
    first.save(SID, {"n": 1})
    assert second.load(SID) is None


# --- the interfaces ------------------------------------------------------------------------


def test_the_base_classes_are_abstract():
    with pytest.raises(TypeError):
        BaseSessionStorage()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        AsyncBaseSessionStorage()  # type: ignore[abstract]
    assert isinstance(MemorySessionStorage(), BaseSessionStorage)
    assert issubclass(FileSessionStorage, BaseSessionStorage)


async def test_an_async_storage_needs_no_cleanup_of_its_own():
    class DictStorage(AsyncBaseSessionStorage):
        def __init__(self) -> None:
            self.data: dict[str, dict[str, Any]] = {}

        async def load(self, session_id: str) -> dict[str, Any] | None:
            return self.data.get(session_id)

        async def save(self, session_id: str, data: dict[str, Any]) -> None:
            self.data[session_id] = data

        async def delete(self, session_id: str) -> None:
            self.data.pop(session_id, None)

    storage = DictStorage()
    await storage.save(SID, {"n": 1})
    assert await storage.cleanup() is None
    assert await storage.load(SID) == {"n": 1}


async def test_maybe_await_treats_sync_and_async_results_alike():
    async def coroutine() -> str:
        return "coroutine"

    future = asyncio.get_running_loop().create_future()
    future.set_result("future")
    assert await maybe_await("plain") == "plain"
    assert await maybe_await(None) is None
    assert await maybe_await(coroutine()) == "coroutine"
    assert await maybe_await(future) == "future"
    store = MemorySessionStorage()
    await maybe_await(store.save(SID, {"n": 1}))
    assert await maybe_await(store.load(SID)) == {"n": 1}


# --- the package ---------------------------------------------------------------------------


def modules_after(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"{code}; import sys; print(sorted(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return ast.literal_eval(result.stdout.strip())


HEAVY = ("gobstopper.sessions.storage", "gobstopper.sessions.redis_storage", "redis")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import gobstopper.sessions", []),
        ("from gobstopper.sessions import MemorySessionStorage", [HEAVY[0]]),
        ("from gobstopper.sessions import AsyncRedisSessionStorage", sorted(HEAVY[:2])),
    ],
)
def test_the_package_imports_only_what_is_used(code: str, expected: list[str]):
    assert modules_after(code, HEAVY) == expected


def test_the_package_exports_the_storages():
    import gobstopper.sessions as sessions
    from gobstopper.sessions import redis_storage, storage

    names: list[tuple[str, Callable[..., Any]]] = [
        ("BaseSessionStorage", storage.BaseSessionStorage),
        ("AsyncBaseSessionStorage", storage.AsyncBaseSessionStorage),
        ("FileSessionStorage", storage.FileSessionStorage),
        ("MemorySessionStorage", storage.MemorySessionStorage),
        ("AsyncRedisSessionStorage", redis_storage.AsyncRedisSessionStorage),
    ]
    for name, value in names:
        assert getattr(sessions, name) is value
        assert name in dir(sessions)
    assert sorted(sessions.__all__) == sorted(name for name, _ in names)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sessions.Nope  # noqa: B018
