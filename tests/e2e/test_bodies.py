"""Every body API under a real Granian server, with httpx: examples, bad input, memory."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bodies import BOUNDARY, MULTIPART, multipart_body
from tests.http.body_cases import CASES, Case
from tests.servers import INTERFACES, granian_server

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
LIMIT = 10 * MiB  # the default max_body_bytes
HANG_GUARD = 5.0  # seconds: a bad request must be answered well before this
DELIMITER = f"--{BOUNDARY}".encode()  # opens a part of a ``MULTIPART`` body
CLOSE = DELIMITER + b"--\r\n"  # ends the body


@pytest.fixture(scope="module", params=INTERFACES)
def server(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("bodies")
    (root / "uploads").mkdir()
    with granian_server("bodies_app:app", root, interface=request.param) as running:
        running.cwd = root  # type: ignore[attr-defined]
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def worker_pid(client) -> int:
    return client.get("/").json()["pid"]


def proc_status(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` value in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def deleted_temp_files(pid: int) -> list[str]:
    """Open file descriptors of ``pid`` that point at deleted temporary files."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("/tmp") and target.endswith("(deleted)"):
            found.append(target)
    return found


class Upload:
    """A generator body (sent chunked, no Content-Length) that counts what it gave."""

    def __init__(
        self,
        total: int,
        prefix: bytes = b"",
        suffix: bytes = b"",
        chunk: bytes = b"\0" * (64 * 1024),
        deadline: float = 30.0,
    ) -> None:
        self.total, self.prefix, self.suffix, self.chunk = total, prefix, suffix, chunk
        self.deadline = deadline
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        # Counted per upload: the same parameter object is sent once per interface.
        self.sent = 0
        end = time.monotonic() + self.deadline
        if self.prefix:
            self.sent += len(self.prefix)
            yield self.prefix
        while self.sent < self.total and time.monotonic() < end:
            self.sent += len(self.chunk)
            yield self.chunk
        if self.suffix:
            yield self.suffix


def assert_still_serving(client: httpx.Client) -> None:
    assert client.get("/").json()["ok"] is True


# -- the documented examples -------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_documented_example(client, case: Case):
    response = client.request(case.method, case.path, **case.kwargs)
    case.check(response.status_code, response.json())


def test_uploads_are_saved_where_the_examples_say(client, server):
    uploads = server.cwd / "uploads"
    body = multipart_body({"name": "ann"}, {"avatar": ("me.png", b"\x89PNG-data")})
    assert client.post("/upload/avatar", content=body, headers=MULTIPART).json() == {
        "uploaded": "me.png"
    }
    assert (uploads / "me.png").read_bytes() == b"\x89PNG-data"
    assert client.post("/profile", content=body, headers=MULTIPART).json()["avatar"] is True
    assert (uploads / "ann_avatar.jpg").read_bytes() == b"\x89PNG-data"
    traversal = multipart_body(files={"avatar": ("../../../escape.txt", b"E")})
    assert client.post("/upload/avatar", content=traversal, headers=MULTIPART).json() == {
        "uploaded": "escape.txt"
    }
    assert (uploads / "escape.txt").read_bytes() == b"E"
    assert not (server.cwd.parent / "escape.txt").exists()


# -- bad input: a quick 4xx, and the server keeps serving ---------------------------------
def _part_header(name: str, filename: str | None = None) -> bytes:
    extra = f'; filename="{filename}"' if filename is not None else ""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
    ).encode()


def _bad_inputs() -> list[tuple[str, str, dict, int]]:
    json_ct = {"content-type": "application/json"}
    form_ct = {"content-type": "application/x-www-form-urlencoded"}
    tiny_field = _part_header("f") + b"1\r\n"
    return [
        ("over-limit-content-length", "/upload/raw", {"content": b"x" * (LIMIT + 1)}, 413),
        ("over-limit-chunked", "/upload/raw", {"content": Upload(2 * LIMIT)}, 413),
        (
            "json-100k-deep",
            "/json",
            {"content": b"[" * 100_000 + b"]" * 100_000, "headers": json_ct},
            400,
        ),
        (
            "json-100k-deep-objects",
            "/json",
            {"content": b'{"a":' * 100_000, "headers": json_ct},
            400,
        ),
        ("json-invalid-utf8", "/json", {"content": b'{"a": "\xc3\x28"}', "headers": json_ct}, 400),
        ("json-truncated", "/json", {"content": b'{"a": [1, 2, {"b": ', "headers": json_ct}, 400),
        (
            "json-wrong-content-type",
            "/json",
            {"content": b"{}", "headers": {"content-type": "text/csv"}},
            415,
        ),
        (
            "multipart-100k-fields",
            "/upload/info",
            {
                "content": tiny_field * 100_000 + CLOSE,
                "headers": MULTIPART,
            },
            413,
        ),
        (
            "multipart-no-closing-boundary",
            "/upload/info",
            {"content": _part_header("a") + b"value\r\n", "headers": MULTIPART},
            400,
        ),
        (
            "multipart-71-char-boundary",
            "/upload/info",
            {
                "content": b"--" + b"b" * 71 + b"--\r\n",
                "headers": {"content-type": "multipart/form-data; boundary=" + "b" * 71},
            },
            400,
        ),
        (
            "multipart-no-boundary",
            "/upload/info",
            {
                "content": _part_header("a") + b"v\r\n" + CLOSE,
                "headers": {"content-type": "multipart/form-data"},
            },
            400,
        ),
        (
            "multipart-endless-headers",
            "/upload/info",
            {
                "content": Upload(LIMIT, prefix=DELIMITER + b"\r\nX-Endless: ", chunk=b"y" * 4096),
                "headers": MULTIPART,
            },
            400,
        ),
        (
            "multipart-endless-header-lines",
            "/upload/info",
            {
                "content": Upload(LIMIT, prefix=DELIMITER + b"\r\n", chunk=b"X-A: b\r\n" * 512),
                "headers": MULTIPART,
            },
            400,
        ),
        (
            "multipart-filename-traversal-nul",
            "/upload/info",
            {
                "content": _part_header("f", "../../etc/passwd\x00.png") + b"x\r\n" + CLOSE,
                "headers": MULTIPART,
            },
            400,
        ),
        (
            "urlencoded-million-ampersands",
            "/submit",
            {"content": b"&" * 1_000_000, "headers": form_ct},
            413,
        ),
        ("urlencoded-bad-utf8", "/submit", {"content": b"name=%ff%fe", "headers": form_ct}, 400),
    ]


BAD_INPUTS = _bad_inputs()


@pytest.mark.parametrize(
    ("path", "kwargs", "status"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_gets_a_quick_4xx_and_the_server_keeps_serving(client, path, kwargs, status):
    started = time.monotonic()
    response = client.post(path, **kwargs)
    elapsed = time.monotonic() - started
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert elapsed < HANG_GUARD
    body = kwargs["content"]
    if isinstance(body, Upload):  # the client stopped sending once answered
        assert body.sent < body.total
    assert_still_serving(client)


# -- memory stays bounded ----------------------------------------------------------------------
@pytest.mark.parametrize("with_length", [False, True], ids=["chunked", "content-length"])
def test_one_gigabyte_upload_is_refused_with_bounded_memory(client, worker_pid, with_length):
    total = 1 << 30
    upload = Upload(total)
    headers = {"content-length": str(total)} if with_length else {}
    rss_before = proc_status(worker_pid, "VmRSS")
    exact_peak = reset_peak(worker_pid)
    peak = rss_before
    started = time.monotonic()
    response = client.post("/upload/raw", content=upload, headers=headers)
    elapsed = time.monotonic() - started
    peak = proc_status(worker_pid, "VmHWM" if exact_peak else "VmRSS")
    assert response.status_code == 413
    assert elapsed < HANG_GUARD
    assert upload.sent < 100 * MiB  # the generator stopped long before 1 GB
    growth_kib = peak - rss_before
    assert growth_kib * 1024 < LIMIT + 24 * MiB, f"worker grew {growth_kib} KiB"
    assert_still_serving(client)


def test_big_upload_streams_to_disk_with_bounded_memory(client, worker_pid):
    size = 100 * MiB
    block = os.urandom(64 * 1024)
    upload = Upload(
        size,
        prefix=_part_header("big", "big.bin"),
        chunk=block,
        suffix=b"\r\n" + CLOSE,
    )
    expected = hashlib.sha256()
    for _ in range(size // len(block)):
        expected.update(block)
    rss_before = proc_status(worker_pid, "VmRSS")
    exact_peak = reset_peak(worker_pid)
    response = client.post("/upload/big", content=upload, headers=MULTIPART, timeout=60)
    peak = proc_status(worker_pid, "VmHWM" if exact_peak else "VmRSS")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "big": {"size": size, "in_memory": False, "sha256": expected.hexdigest()}
    }
    growth_kib = peak - rss_before
    assert growth_kib * 1024 < 24 * MiB, f"worker grew {growth_kib} KiB for a 100 MiB upload"


def test_temporary_files_are_removed_after_the_request(client, worker_pid):
    before = deleted_temp_files(worker_pid)
    body = multipart_body(files={"doc": ("doc.bin", b"z" * (3 * MiB))})
    response = client.post("/upload/info", content=body, headers=MULTIPART)
    assert response.json()["files"]["doc"]["in_memory"] is False
    deadline = time.monotonic() + 5
    while deleted_temp_files(worker_pid) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deleted_temp_files(worker_pid) == before
