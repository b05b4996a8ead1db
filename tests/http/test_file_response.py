"""FileResponse: one response_file call, validators, 304, Range, HEAD, 404s."""

from __future__ import annotations

import os
import time
from email.utils import formatdate

import pytest

from gobstopper import FileResponse, Gobstopper
from gobstopper.http.conditional import UNSATISFIABLE, parse_range
from gobstopper.http.request import Request
from gobstopper.testing import FakeHTTPProtocol, TestClient, TestResponse, build_request

CONTENT = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def answer(response, method="GET", headers=None):
    """Send ``response`` for a request with ``headers`` through a fake protocol."""
    scope, _ = build_request(method, "/", headers=headers)
    proto = FakeHTTPProtocol(b"")
    request = Request(scope, proto)
    if method == "HEAD":
        response.send_head(proto, request)
    else:
        assert response.send(proto, request) is None
    return TestResponse(proto)


# -- the basics -----------------------------------------------------------------
def test_sent_through_response_file_with_type_length_and_attachment(data_file):
    result = answer(FileResponse(data_file))
    assert result.rsgi_call == "response_file"
    assert result.file_path == str(data_file.resolve())
    assert result.status_code == 200
    assert result.content == CONTENT
    assert result.headers["content-type"] == "application/octet-stream"
    assert result.headers["content-length"] == "1024"
    assert result.headers["content-disposition"] == 'attachment; filename="data.bin"'
    assert result.headers["accept-ranges"] == "bytes"


def test_mime_type_and_download_name_come_from_filename(tmp_path):
    (tmp_path / "report.pdf").write_bytes(b"%PDF")
    result = answer(FileResponse(tmp_path / "report.pdf", filename="monthly report.pdf"))
    assert result.headers["content-type"] == "application/pdf"
    assert result.headers["content-disposition"] == 'attachment; filename="monthly report.pdf"'


def test_non_ascii_and_quote_filenames_use_rfc5987(data_file):
    disposition = answer(FileResponse(data_file, filename='résumé "v2".txt')).headers[
        "content-disposition"
    ]
    assert disposition.startswith('attachment; filename="rsum v2.txt"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt" in disposition
    assert "\n" not in disposition


def test_inline_and_explicit_headers_win(data_file):
    inline = answer(FileResponse(data_file, as_attachment=False))
    assert "content-disposition" not in inline.headers
    custom = answer(
        FileResponse(data_file, headers={"Content-Type": "text/x-custom", "X-Extra": "1"})
    )
    assert custom.headers["content-type"] == "text/x-custom"
    assert custom.headers["x-extra"] == "1"
    typed = answer(FileResponse(data_file, content_type="image/png"))
    assert typed.headers["content-type"] == "image/png"


@pytest.mark.parametrize("kind", ["missing", "directory", "nul", "fifo"])
def test_missing_or_not_a_file_is_404_not_500(tmp_path, kind):
    target = {
        "missing": tmp_path / "nope.txt",
        "directory": tmp_path,
        "nul": str(tmp_path / "a") + "\x00b",
        "fifo": tmp_path / "pipe",
    }[kind]
    if kind == "fifo":
        os.mkfifo(target)
    response = FileResponse(target)  # never raises at construction
    result = answer(response)
    assert result.status_code == 404
    assert result.rsgi_call == "response_str"
    assert result.text == "Not Found"
    head = answer(FileResponse(target), method="HEAD")
    assert head.status_code == 404 and head.content == b""


def test_unreadable_file_is_404(data_file, monkeypatch):
    # Root can read anything, so unreadability is simulated at the access check.
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, m: False if str(p) == str(data_file.resolve()) else real_access(p, m),
    )
    assert answer(FileResponse(data_file)).status_code == 404


def test_file_deleted_after_construction_is_404(data_file):
    response = FileResponse(data_file)
    data_file.unlink()
    assert answer(response).status_code == 404


# -- validators and 304 ---------------------------------------------------------
def test_etag_and_last_modified_are_sent_and_change_with_the_file(data_file):
    first = answer(FileResponse(data_file))
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and etag.endswith('"')
    assert modified.endswith(" GMT")
    os.utime(data_file, (time.time() + 10, time.time() + 10))
    assert answer(FileResponse(data_file)).headers["etag"] != etag


@pytest.mark.parametrize("template", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_if_none_match_gives_304_without_body(data_file, template):
    etag = answer(FileResponse(data_file)).headers["etag"]
    result = answer(FileResponse(data_file), headers={"if-none-match": template.format(etag=etag)})
    assert result.status_code == 304
    assert result.rsgi_call == "response_empty"
    assert result.content == b""
    assert result.headers["etag"] == etag
    assert "content-type" not in result.headers and "content-length" not in result.headers


def test_if_none_match_mismatch_sends_the_file_even_if_date_matches(data_file):
    future = formatdate(time.time() + 3600, usegmt=True)
    result = answer(
        FileResponse(data_file), headers={"if-none-match": '"nope"', "if-modified-since": future}
    )
    assert result.status_code == 200 and result.content == CONTENT


def test_if_modified_since(data_file):
    mtime = data_file.stat().st_mtime
    same = answer(
        FileResponse(data_file), headers={"if-modified-since": formatdate(mtime, usegmt=True)}
    )
    assert same.status_code == 304
    older = answer(
        FileResponse(data_file), headers={"if-modified-since": formatdate(mtime - 60, usegmt=True)}
    )
    assert older.status_code == 200 and older.content == CONTENT
    garbage = answer(FileResponse(data_file), headers={"if-modified-since": "yesterday-ish"})
    assert garbage.status_code == 200


def test_head_gets_304_and_headers_without_body(data_file):
    etag = answer(FileResponse(data_file)).headers["etag"]
    head = answer(FileResponse(data_file), method="HEAD")
    assert head.rsgi_call == "response_empty"
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "1024"
    assert head.headers["etag"] == etag
    assert (
        answer(FileResponse(data_file), method="HEAD", headers={"if-none-match": etag}).status_code
        == 304
    )


def test_conditionals_only_for_get_head_and_status_200(data_file):
    etag = answer(FileResponse(data_file)).headers["etag"]
    post = answer(FileResponse(data_file), method="POST", headers={"if-none-match": etag})
    assert post.status_code == 200
    created = answer(
        FileResponse(data_file, status=201), headers={"if-none-match": etag, "range": "bytes=0-1"}
    )
    assert created.status_code == 201 and created.content == CONTENT
    off = answer(FileResponse(data_file, conditional=False), headers={"if-none-match": etag})
    assert off.status_code == 200 and "etag" not in off.headers


def test_other_methods_than_get_and_head_get_the_whole_file(data_file):
    etag = answer(FileResponse(data_file)).headers["etag"]
    asked = {"range": "bytes=0-1", "if-none-match": etag}
    result = answer(FileResponse(data_file), method="POST", headers=asked)
    assert result.status_code == 200 and result.content == CONTENT


# -- ranges ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("bytes=-5000", 0, 1023),
        ("BYTES = 5-5", 5, 5),
    ],
)
def test_single_range_gives_206_with_content_range(data_file, header, first, last):
    result = answer(FileResponse(data_file), headers={"range": header})
    assert result.status_code == 206
    assert result.rsgi_call == "response_file_range"
    assert result.content == CONTENT[first : last + 1]
    assert result.headers["content-range"] == f"bytes {first}-{last}/1024"
    assert result.headers["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(data_file, header):
    result = answer(FileResponse(data_file), headers={"range": header})
    assert result.status_code == 416
    assert result.headers["content-range"] == "bytes */1024"
    assert CONTENT[:16] not in result.content


@pytest.mark.parametrize(
    "header",
    [
        "bytes=9-3",
        "items=0-5",
        "bytes=a-b",
        "bytes=0-1,5-6",
        "bytes",
        "bytes=--5",
        "bytes=٣-5",
        "bytes=" + "9" * 30 + "-",
    ],
)
def test_invalid_or_multiple_ranges_are_ignored(data_file, header):
    result = answer(FileResponse(data_file), headers={"range": header})
    assert result.status_code == 200 and result.content == CONTENT


def test_if_range_decides_between_206_and_200(data_file):
    full = answer(FileResponse(data_file))
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    for good in (etag, modified):
        result = answer(FileResponse(data_file), headers={"range": "bytes=0-3", "if-range": good})
        assert result.status_code == 206 and result.content == CONTENT[:4]
    for stale in ('"stale"', "W/" + etag, "Mon, 01 Jan 2001 00:00:00 GMT"):
        result = answer(FileResponse(data_file), headers={"range": "bytes=0-3", "if-range": stale})
        assert result.status_code == 200 and result.content == CONTENT


def test_head_ignores_range(data_file):
    head = answer(FileResponse(data_file), method="HEAD", headers={"range": "bytes=0-3"})
    assert head.status_code == 200 and head.headers["content-length"] == "1024"


def test_empty_file_ranges_are_unsatisfiable(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert answer(FileResponse(empty)).content == b""
    assert answer(FileResponse(empty), headers={"range": "bytes=0-"}).status_code == 416
    assert answer(FileResponse(empty), headers={"range": "bytes=-1"}).status_code == 416


def test_parse_range_edges():
    assert parse_range("bytes=0-0", 1) == (0, 0)
    assert parse_range("bytes=1-", 1) == UNSATISFIABLE
    assert parse_range("bytes=-1", 10) == (9, 9)
    assert parse_range("bytes=0-", 0) == UNSATISFIABLE
    assert parse_range("", 10) is None


# -- through the app (the dispatcher sends file responses with the request) -------
@pytest.fixture
def client(data_file):
    app = Gobstopper()

    @app.get("/download")
    async def download(request):
        return FileResponse(data_file, filename="report.bin")

    @app.get("/gone")
    async def gone(request):
        return FileResponse(data_file.parent / "missing.bin")

    with TestClient(app) as test_client:
        yield test_client


def test_app_serves_the_file_whole(client):
    full = client.get("/download")
    assert full.status_code == 200 and full.content == CONTENT
    assert full.rsgi_call == "response_file"
    assert full.headers["content-disposition"] == 'attachment; filename="report.bin"'
    head = client.head("/download")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "1024"


def test_app_answers_range_and_304(client):
    etag = client.get("/download").headers["etag"]
    part = client.get("/download", headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == CONTENT[10:20]
    assert client.get("/download", headers={"range": "bytes=2000-"}).status_code == 416
    cached = client.get("/download", headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert client.head("/download", headers={"if-none-match": etag}).status_code == 304


def test_app_missing_file_is_404(client):
    assert client.get("/gone").status_code == 404
    assert client.head("/gone").status_code == 404
