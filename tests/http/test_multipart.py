"""Multipart: the streaming reader, FileStorage, secure_filename and the request APIs."""

from __future__ import annotations

import io
import weakref
from collections.abc import Iterable, Iterator

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.http.body import BodyLimits
from gobstopper.http.errors import BodyValidationError, RequestTooLarge, UnsupportedMediaType
from gobstopper.http.multipart import (
    FileDict,
    FileStorage,
    MultipartReader,
    boundary_of,
    parse_multipart,
    secure_filename,
)
from gobstopper.http.request import Request
from gobstopper.http.validation import BodyTooLarge
from gobstopper.middleware import LimitsMiddleware
from gobstopper.testing import FakeHeaders, FakeScope, TestClient
from tests.http.streaming_protocol import StreamingProtocol

BOUNDARY = "----gobstopper-test-7MA4YWxkTrZu0gW"
CT = f"multipart/form-data; boundary={BOUNDARY}"


def part(
    name: str,
    value: bytes | str,
    filename: str | None = None,
    content_type: str | None = None,
    extra: str = "",
) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    value = value.encode() if isinstance(value, str) else value
    return head.encode() + extra.encode() + b"\r\n" + value + b"\r\n"


def multipart(*parts: bytes, close: bool = True) -> bytes:
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


SAMPLE = multipart(
    part("name", "Ann"),
    part("tags", "a"),
    part("tags", "b"),
    part("avatar", b"\x89PNG...", filename="me.png", content_type="image/png"),
    part("docs", "one", filename="a.txt", content_type="text/plain"),
    part("docs", "two", filename="b.txt", content_type="text/plain"),
)


# -- the reader ------------------------------------------------------------------------
def test_parse_multipart_fields_and_files():
    form, files = parse_multipart(SAMPLE, CT)
    assert form == {"name": ["Ann"], "tags": ["a", "b"]}
    assert sorted(files) == ["avatar", "docs"]
    avatar = files["avatar"]
    assert (avatar.filename, avatar.name, avatar.content_type) == ("me.png", "avatar", "image/png")
    assert avatar.headers["content-type"] == "image/png"
    assert avatar.read() == b"\x89PNG..." and avatar.size == 7
    assert files["docs"].read() == b"one"  # the first file of a name, like Flask
    assert files.getlist("docs")[1].read() == b"two"
    assert [f.filename for f in files.getlist("docs")] == ["a.txt", "b.txt"]
    assert files.getlist("missing") == []
    files.close()
    assert all(f.closed for f in files.every())


def contents(files: FileDict) -> list[tuple[str, str, bytes]]:
    return [(f.name, f.filename, f.read()) for f in files.every()]


def test_any_chunking_gives_the_same_result():
    expected_form, expected_files = parse_multipart(SAMPLE, CT)
    expected = contents(expected_files)
    assert len(expected) == 3
    for size in (1, 2, 7, 63):
        reader = MultipartReader(CT)
        for start in range(0, len(SAMPLE), size):
            reader.feed(SAMPLE[start : start + size])
        form, files = reader.finish()
        assert form == expected_form
        assert contents(files) == expected
        files.close()
    expected_files.close()


def test_boundary_inside_content_is_not_a_boundary():
    tricky = f"x\r\n--{BOUNDARY}x\r\n--{BOUNDARY[:-1]}".encode()
    form, _ = parse_multipart(multipart(part("a", tricky)), CT)
    assert form == {"a": [tricky.decode()]}


def test_empty_body_is_empty():
    assert parse_multipart(b"", CT) == ({}, {})
    assert parse_multipart(f"--{BOUNDARY}--\r\n".encode(), CT) == ({}, {})


def test_empty_file_input_is_a_falsy_file():
    _, files = parse_multipart(multipart(part("avatar", b"", filename="")), CT)
    assert not files["avatar"] and files["avatar"].filename == ""


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary=""',
        "multipart/form-data; boundary=" + "a" * 71,
        "multipart/form-data; boundary=bad<char>",
        "multipart/form-data; boundary=ends-with-space ",
    ],
)
def test_missing_or_invalid_boundary_is_400(content_type):
    with pytest.raises(BodyValidationError, match="boundary"):
        parse_multipart(b"--x--\r\n", content_type)


def test_seventy_character_boundary_is_fine():
    boundary = "b" * 70
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--'
    assert parse_multipart(body.encode(), f"multipart/form-data; boundary={boundary}")[0] == {
        "a": ["1"]
    }
    assert boundary_of(f'multipart/form-data; boundary="{boundary}"') == boundary.encode()


def test_not_multipart_is_415():
    with pytest.raises(UnsupportedMediaType):
        parse_multipart(b"a=1", "application/x-www-form-urlencoded")


def test_missing_closing_boundary_is_400():
    with pytest.raises(BodyValidationError, match="closing boundary"):
        parse_multipart(multipart(part("a", "1"), close=False), CT)
    with pytest.raises(BodyValidationError, match="closing boundary"):
        parse_multipart(part("a", "1")[:-10], CT)


@pytest.mark.parametrize(
    "body",
    [
        b"garbage before any boundary",
        f"--{BOUNDARY}\r\nNo-Colon-Here\r\n\r\nx\r\n--{BOUNDARY}--".encode(),
        f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nno name\r\n--{BOUNDARY}--".encode(),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--{BOUNDARY}--'
        ).encode(),
    ],
)
def test_malformed_bodies_are_400(body):
    with pytest.raises(BodyValidationError):
        parse_multipart(body, CT)


def test_part_headers_that_never_end_are_400_early():
    endless_header = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\nX: '.encode()
    reader = MultipartReader(CT)
    reader.feed(endless_header)
    with pytest.raises(BodyValidationError, match="header"):
        for _ in range(1000):
            reader.feed(b"y" * 1024)
    assert reader.received < 20 * 1024
    many = f"--{BOUNDARY}\r\n".encode() + b"X-A: b\r\n" * 10_000
    with pytest.raises(BodyValidationError, match="header"):
        parse_multipart(many, CT)


def test_filename_with_nul_is_400_and_path_parts_are_dropped():
    with pytest.raises(BodyValidationError, match="Control characters"):
        parse_multipart(multipart(part("f", "x", filename="../../etc/passwd\x00.png")), CT)
    with pytest.raises(BodyValidationError, match="Control characters"):
        parse_multipart(multipart(part("f\x00", "x")), CT)
    _, files = parse_multipart(
        multipart(
            part("a", "x", filename="../../etc/passwd"),
            part("b", "x", filename="C:\\Users\\me\\photo.jpg"),
            part("c", "x", filename=".."),
        ),
        CT,
    )
    assert files["a"].filename == "passwd" and files["a"].raw_filename == "../../etc/passwd"
    assert files["b"].filename == "photo.jpg"
    assert files["c"].filename == ""


def test_utf8_names_and_filenames():
    form, files = parse_multipart(
        multipart(part("prénom", "Zoë"), part("f", "x", filename="résumé.pdf")), CT
    )
    assert form == {"prénom": ["Zoë"]}
    assert files["f"].filename == "résumé.pdf"


def test_field_that_is_not_utf8_is_400():
    with pytest.raises(BodyValidationError, match="UTF-8"):
        parse_multipart(multipart(part("a", b"\xff\xfe")), CT)


def test_hundred_thousand_tiny_fields_stop_at_the_limit():
    reader = MultipartReader(CT)
    tiny = part("f", "1")
    with pytest.raises(BodyTooLarge, match="Too many form fields"):
        for _ in range(100_000):
            reader.feed(tiny)
    assert reader.received <= len(tiny) * 1002


@pytest.mark.parametrize(
    ("limits", "body", "message"),
    [
        (
            BodyLimits(max_files=2),
            multipart(*[part(f"f{i}", "x", filename="x") for i in range(3)]),
            "Too many files",
        ),
        (
            BodyLimits(max_file_bytes=10),
            multipart(part("f", "x" * 11, filename="x")),
            "Uploaded file too large",
        ),
        (BodyLimits(max_field_bytes=10), multipart(part("f", "x" * 11)), "Form field too large"),
        (
            BodyLimits(max_form_fields=1),
            multipart(part("a", "1"), part("b", "2")),
            "Too many form fields",
        ),
    ],
)
def test_limits_are_413(limits, body, message):
    with pytest.raises(BodyTooLarge, match=message) as info:
        parse_multipart(body, CT, limits)
    assert info.value.status_code == 413
    assert isinstance(info.value, RequestTooLarge)


def test_limits_at_exactly_the_maximum_pass():
    limits = BodyLimits(max_files=2, max_file_bytes=10, max_field_bytes=10, max_form_fields=1)
    form, files = parse_multipart(
        multipart(
            part("a", "x" * 10),
            part("f", "y" * 10, filename="1"),
            part("g", "", filename="2"),
        ),
        CT,
        limits,
    )
    assert form == {"a": ["x" * 10]} and len(files) == 2
    files.close()


def test_big_files_spill_to_disk_small_ones_stay_in_memory():
    limits = BodyLimits(max_file_memory_bytes=1000)
    _, files = parse_multipart(
        multipart(
            part("small", b"s" * 1000, filename="s"),
            part("big", b"b" * 1001, filename="b"),
        ),
        CT,
        limits,
    )
    assert files["small"].in_memory is True
    assert files["big"].in_memory is False
    assert files["big"].read() == b"b" * 1001
    files.close()


def test_failed_parse_closes_partial_uploads():
    reader = MultipartReader(CT, BodyLimits(max_file_memory_bytes=10, max_files=1))
    reader.feed(multipart(part("a", b"x" * 100, filename="a"))[:-20])
    spooled = reader._part.file
    assert spooled is not None and not spooled.closed
    reader.close()
    assert spooled.closed


# -- FileStorage and secure_filename ----------------------------------------------------
def test_file_storage_save_read_and_close(tmp_path):
    storage = FileStorage(io.BytesIO(b"hello world"), "h.txt", "f", "text/plain; charset=utf-8")
    assert storage.mimetype == "text/plain" and bool(storage)
    assert storage.read(5) == b"hello"
    storage.save(tmp_path / "out.txt")  # saves everything, not only the unread rest
    assert (tmp_path / "out.txt").read_bytes() == b"hello world"
    sink = io.BytesIO()
    storage.save(sink)
    assert sink.getvalue() == b"hello world"
    storage.seek(6)
    assert storage.tell() == 6 and storage.read() == b"world"
    with storage:
        pass
    assert storage.closed
    assert "h.txt" in repr(storage)


def test_file_storage_closes_when_garbage_collected():
    stream = io.BytesIO(b"x")
    storage = FileStorage(stream, "x")
    del storage  # CPython frees it at once: no gc.collect() needed
    assert stream.closed


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("My cool movie.mov", "My_cool_movie.mov"),
        ("../../../etc/passwd", "etc_passwd"),
        ("..\\..\\windows\\system32", "windows_system32"),
        ("i contain cool \xfcml\xe4uts.txt", "i_contain_cool_umlauts.txt"),
        ("NUL.txt", "_NUL.txt"),
        ("com1", "_com1"),
        ("..", ""),
        ("a\x00b.txt", "ab.txt"),
        (".bashrc", "bashrc"),
    ],
)
def test_secure_filename(raw, safe):
    assert secure_filename(raw) == safe


def test_file_dict_is_a_dict():
    files = FileDict()
    files.add("a", FileStorage(io.BytesIO(b"1"), "1"))
    files.add("a", FileStorage(io.BytesIO(b"2"), "2"))
    assert isinstance(files, dict) and list(files) == ["a"] and files["a"].filename == "1"
    assert len(list(files.every())) == 2
    files.close()


# -- the request APIs ------------------------------------------------------------------------
class Contact(msgspec.Struct):
    name: str
    age: int


def upload_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/files")
    async def files(request):
        form = await request.get_form()
        uploaded = await request.files
        return {
            "form": form,
            "files": {k: [f.filename, f.read().decode()] for k, f in uploaded.items()},
            "same": uploaded is await request.get_files(),
        }

    @app.post("/text")
    async def text(request):
        return {"fields": await request.multipart()}

    @app.post("/contact")
    async def contact(request):
        return msgspec.structs.asdict(await request.multipart(model=Contact))

    @app.post("/limited")
    async def limited(request):
        try:
            await request.multipart(max_size=300)
        except BodyValidationError as exc:
            return {"error": str(exc), "is_413": isinstance(exc, RequestTooLarge)}, 413
        return {"ok": True}

    @app.post("/limited/unhandled")
    async def limited_unhandled(request):
        return {"fields": await request.multipart(max_size=300)}

    @app.post("/strict", middleware=[LimitsMiddleware(max_files=1, max_form_fields=2)])
    async def strict(request):
        return {"n": len(await request.get_files())}

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(upload_app()) as c:
        yield c


def post(client, path, body, content_type=CT):
    return client.post(path, content=body, headers={"content-type": content_type})


def test_get_form_get_files_and_files_property(client):
    body = multipart(
        part("name", "Ann"),
        part("tags", "a"),
        part("tags", "b"),
        part("doc", "hello", filename="h.txt", content_type="text/plain"),
        part("doc", "second", filename="i.txt"),
    )
    assert post(client, "/files", body).json() == {
        "form": {"name": ["Ann"], "tags": ["a", "b"]},
        "files": {"doc": ["h.txt", "hello"]},
        "same": True,
    }


def test_files_contents_roundtrip(client):
    body = multipart(part("name", "Ann"), part("doc", "hello", filename="h.txt"))
    assert post(client, "/files", body).json() == {
        "form": {"name": ["Ann"]},
        "files": {"doc": ["h.txt", "hello"]},
        "same": True,
    }


def test_get_files_is_empty_for_other_bodies(client):
    assert client.post("/files", data={"a": "1"}).json() == {
        "form": {"a": ["1"]},
        "files": {},
        "same": False,
    }
    assert client.post("/files", json={"a": 1}).json()["files"] == {}


def test_multipart_text_fields(client):
    assert post(client, "/text", multipart(part("a", "1"), part("a", "2"))).json() == {
        "fields": {"a": ["1", "2"]}
    }
    assert post(client, "/text", b"").json() == {"fields": None}
    assert client.post("/text").json() == {"fields": None}


def test_multipart_rejects_files_and_other_types(client):
    with_file = post(client, "/text", multipart(part("a", "1"), part("f", "x", filename="x")))
    assert with_file.status_code == 400
    assert with_file.json()["errors"] == [{"loc": ["body", "f"], "msg": "file not allowed"}]
    assert client.post("/text", data={"a": "1"}).status_code == 415
    assert client.post("/text", json={"a": 1}).status_code == 415


def test_multipart_model(client):
    ok = post(client, "/contact", multipart(part("name", "Ann"), part("age", "42")))
    assert ok.json() == {"name": "Ann", "age": 42}
    bad = post(client, "/contact", multipart(part("name", "Ann")))
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"loc": ["body", "age"], "msg": "Field required"}]
    assert post(client, "/contact", b"").status_code == 400


def test_multipart_max_size(client):
    small = multipart(part("a", "1"))
    assert post(client, "/limited", small).json() == {"ok": True}
    big = multipart(part("a", "x" * 300))
    handled = post(client, "/limited", big)
    assert handled.status_code == 413 and handled.json()["is_413"] is True
    assert "max_size 300" in handled.json()["error"]
    assert post(client, "/limited/unhandled", big).status_code == 413


def test_limits_from_middleware(client):
    one = multipart(part("a", "1"), part("f", "x", filename="x"))
    assert post(client, "/strict", one).json() == {"n": 1}
    two = multipart(part("f", "x", filename="x"), part("g", "y", filename="y"))
    assert post(client, "/strict", two).status_code == 413
    fields = multipart(*[part(f"a{i}", "1") for i in range(3)])
    assert post(client, "/strict", fields).status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (multipart(part("a", "1"), close=False), CT, 400),
        (multipart(part("a", "1")), "multipart/form-data", 400),
        (multipart(part("a", "1")), "multipart/form-data; boundary=" + "x" * 71, 400),
        (multipart(part("f", "x", filename="../a\x00.txt")), CT, 400),
        (multipart(*[part("f", "1") for _ in range(100_000)]), CT, 413),
    ],
)
def test_bad_multipart_bodies_get_4xx_and_the_app_keeps_serving(client, body, content_type, status):
    assert post(client, "/files", body, content_type).status_code == status
    assert post(client, "/text", multipart(part("a", "ok"))).json() == {"fields": {"a": ["ok"]}}


# -- streaming and read-once state ----------------------------------------------------------
def chunked_request(
    body: bytes | Iterable[bytes], headers: dict[str, str] | None = None, size: int = 100
) -> tuple[Request, StreamingProtocol]:
    if isinstance(body, bytes):
        body = [body[i : i + size] for i in range(0, len(body), size)]
    proto = StreamingProtocol(body)
    items = [("content-type", CT), *(headers or {}).items()]
    return Request(FakeScope("POST", "/", "", FakeHeaders(items)), proto), proto


async def test_multipart_is_streamed_without_keeping_the_raw_body():
    request, proto = chunked_request(SAMPLE)
    files = await request.get_files()
    assert proto.pulled == len(SAMPLE) and request._body is None
    assert (await request.get_form())["name"] == ["Ann"]
    with pytest.raises(RuntimeError, match="call get_data"):
        await request.get_data()
    request.close()
    assert all(f.closed for f in files.every())


async def test_get_data_first_keeps_the_bytes_and_parses_from_them():
    request, _ = chunked_request(SAMPLE)
    assert await request.get_data() == SAMPLE
    assert sorted(await request.get_files()) == ["avatar", "docs"]
    assert await request.get_data() == SAMPLE
    request.close()


async def test_streamed_multipart_over_the_body_limit_stops_reading():
    def huge() -> Iterator[bytes]:
        yield part("f", b"", filename="big.bin")[:-2]
        for _ in range(100_000):
            yield b"\0" * 10_000

    request, proto = chunked_request(huge())
    request.max_body_bytes = 50_000
    with pytest.raises(RequestTooLarge):
        await request.get_files()
    assert proto.pulled < 70_000
    with pytest.raises(RequestTooLarge):  # the failure is remembered
        await request.get_form()


async def test_declared_length_over_max_size_is_refused_before_reading():
    request, proto = chunked_request(SAMPLE, {"content-length": str(len(SAMPLE))})
    with pytest.raises(BodyTooLarge):
        await request.multipart(max_size=10)
    assert proto.pulled == 0


async def test_parse_error_is_remembered():
    request, _ = chunked_request(multipart(part("a", "1"), close=False))
    with pytest.raises(BodyValidationError) as first:
        await request.get_form()
    with pytest.raises(BodyValidationError) as second:
        await request.get_files()
    assert first.value is second.value


async def test_request_close_removes_spilled_temporary_files():
    request, _ = chunked_request(multipart(part("f", b"z" * 5000, filename="z")))
    request.body_limits = BodyLimits(max_file_memory_bytes=1000)
    upload = (await request.get_files())["f"]
    assert upload.in_memory is False and not upload.closed
    request.close()
    assert upload.closed
    request.close()  # idempotent


def test_uploads_are_released_after_the_request():
    app = Gobstopper(__name__)
    seen: list[weakref.ref[FileStorage]] = []

    @app.post("/keep")
    async def keep(request):
        seen.extend(weakref.ref(f) for f in (await request.get_files()).values())
        return "ok"

    with TestClient(app) as client:
        body = multipart(part("f", b"q" * 2_000_000, filename="q"))
        assert post(client, "/keep", body).status_code == 200
    # Freed by reference counting as soon as the request is dropped (no cycles).
    assert len(seen) == 1 and seen[0]() is None


def test_uploads_are_closed_at_the_end_of_the_request():
    app = Gobstopper(__name__)
    kept: list[FileStorage] = []

    @app.post("/keep")
    async def keep(request):
        kept.extend((await request.get_files()).values())
        return "ok"

    with TestClient(app) as client:
        post(client, "/keep", multipart(part("f", b"q" * 2_000_000, filename="q")))
    assert kept and kept[0].closed


async def test_only_errors_that_leave_the_body_unread_close_the_connection():
    request, _ = chunked_request(multipart(*[part(f"f{i}", "1") for i in range(1100)]))
    with pytest.raises(BodyTooLarge) as cut_short:
        await request.get_form()
    assert cut_short.value.headers == {"connection": "close"}
    request, _ = chunked_request(multipart(part("a", "1"), close=False))
    with pytest.raises(BodyValidationError) as fully_read:
        await request.get_form()
    assert fully_read.value.headers == {}
    proto = StreamingProtocol([b"--x--\r\n"])
    headers = FakeHeaders([("content-type", "multipart/form-data; boundary=" + "x" * 71)])
    request = Request(FakeScope("POST", "/", "", headers), proto)
    with pytest.raises(BodyValidationError, match="boundary") as bad_boundary:
        await request.get_files()
    assert bad_boundary.value.headers == {"connection": "close"} and proto.pulled == 0
