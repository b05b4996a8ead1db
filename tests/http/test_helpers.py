"""gobstopper.http.helpers: jsonify, make_response, send_file, ... abort."""

from __future__ import annotations

import io
import os

import pytest

from gobstopper import Gobstopper, JSONResponse, Response, StreamResponse
from gobstopper.http import errors, helpers
from gobstopper.http.helpers import (
    abort,
    jsonify,
    make_response,
    send_file,
    send_from_directory,
    stream_template,
)
from gobstopper.testing import TestClient


def test_jsonify_shapes():
    assert jsonify({"a": 1}).body == b'{"a":1}'
    assert jsonify(1, 2, 3).body == b"[1,2,3]"
    assert jsonify(user="ann", id=3).body == b'{"user":"ann","id":3}'
    assert jsonify().body == b"null"
    response = jsonify([1])
    assert isinstance(response, JSONResponse)
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(TypeError):
        jsonify(1, a=2)


def test_make_response_shapes():
    plain = make_response("hi")
    assert isinstance(plain, Response) and plain.body == "hi" and plain.status == 200
    created = make_response({"id": 1}, 201, {"X-A": "b"})
    assert created.status == 201 and created.headers["X-A"] == "b"
    assert created.body == b'{"id":1}'
    assert make_response(("gone", 410)).status == 410
    existing = Response("x")
    assert make_response(existing) is existing
    assert make_response().body == ""
    with pytest.raises(TypeError):
        make_response(object())


def test_abort_is_the_errors_abort():
    assert abort is errors.abort
    with pytest.raises(errors.Forbidden):
        abort(403)
    assert set(helpers.__all__) >= {"jsonify", "send_file", "stream_template", "abort"}


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "files"
    (root / "sub").mkdir(parents=True)
    (root / "report.csv").write_text("a,b\n1,2\n")
    (root / "sub" / "deep.txt").write_text("deep")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    os.symlink(tmp_path, root / "leakdir")
    os.symlink(root / "report.csv", root / "alias.csv")  # inside: allowed
    return root


def files_app(root):
    app = Gobstopper()

    @app.get("/send/<name>")
    async def send(request, name):
        return send_file(
            root / name,
            as_attachment=request.args.get("dl") == ["1"],
            download_name=request.args.get("as", [None])[0],
            max_age=60,
        )

    @app.get("/dir/<path:name>")
    async def from_dir(request, name):
        return send_from_directory(root, name)

    @app.get("/bytes")
    async def from_bytes(request):
        return send_file(io.BytesIO(b"x" * 200_000), download_name="blob.txt")

    return app


def test_send_file_inline_by_default_and_attachment_on_request(files):
    with TestClient(files_app(files)) as client:
        inline = client.get("/send/report.csv")
        download = client.get("/send/report.csv", params={"dl": "1", "as": "data.csv"})
        missing = client.get("/send/none.csv")
    assert inline.status_code == 200 and inline.text == "a,b\n1,2\n"
    assert inline.rsgi_call == "response_file"
    assert inline.headers["content-type"] == "text/csv"
    assert "content-disposition" not in inline.headers
    assert inline.headers["cache-control"] == "public, max-age=60"
    assert download.headers["content-disposition"] == 'attachment; filename="data.csv"'
    assert missing.status_code == 404


def test_send_file_from_a_file_object_streams_it(files):
    with TestClient(files_app(files)) as client:
        result = client.get("/bytes")
    assert result.rsgi_call == "response_stream"
    assert result.content == b"x" * 200_000
    assert result.headers["content-type"] == "text/plain"
    assert result.headers["content-disposition"] == 'inline; filename="blob.txt"'


def test_send_file_rejects_non_files():
    with pytest.raises(TypeError):
        send_file(12345)  # type: ignore[arg-type]
    with pytest.raises(errors.NotFound):
        send_file("/definitely/not/here.txt")


def test_send_from_directory_serves_inside(files):
    with TestClient(files_app(files)) as client:
        assert client.get("/dir/report.csv").text == "a,b\n1,2\n"
        assert client.get("/dir/sub/deep.txt").text == "deep"
        assert client.get("/dir/alias.csv").text == "a,b\n1,2\n"


@pytest.mark.parametrize(
    "attempt",
    [
        "/dir/../secret.txt",
        "/dir/%2e%2e/secret.txt",
        "/dir/..%2fsecret.txt",
        "/dir/%2e%2e%2fsecret.txt",
        "/dir/sub/..%2f..%2fsecret.txt",
        "/dir/%252e%252e/secret.txt",
        "/dir/..%5csecret.txt",
        "/dir/%2Ftmp%2Fsecret.txt",
        "/dir/leak.txt",
        "/dir/leakdir/secret.txt",
        "/dir/report.csv%00.png",
        "/dir/nothing-here.txt",
    ],
)
def test_send_from_directory_never_escapes(files, attempt):
    with TestClient(files_app(files)) as client:
        result = client.get(attempt, headers={"accept": "application/json"})
    assert result.status_code == 404
    assert b"TOP SECRET" not in result.content


def test_send_from_directory_direct_calls(files):
    for bad in ("../secret.txt", "/etc/passwd", "a\\..\\..\\secret.txt", "leak.txt", "x\x00"):
        with pytest.raises(errors.NotFound):
            send_from_directory(files, bad)
    assert (
        send_from_directory(files, "report.csv", as_attachment=True).headers["content-disposition"]
        == 'attachment; filename="report.csv"'
    )


class FakeEngine:
    async def stream_template_async(self, name, **context):
        yield f"<h1>{name}</h1>"
        yield f"<p>{context['who']}</p>"


async def test_stream_template_with_an_engine():
    response = await stream_template(FakeEngine(), "page.html", who="ann")
    assert isinstance(response, StreamResponse)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert [c async for c in response.generator] == ["<h1>page.html</h1>", "<p>ann</p>"]


def test_stream_template_with_the_app(tmp_path):
    (tmp_path / "page.html").write_text("<p>{{ greeting }}, {{ who }}</p>")
    app = Gobstopper()
    app.init_templates(str(tmp_path), use_rust=False)

    @app.context_processor
    def greeting():
        return {"greeting": "hello"}

    @app.get("/")
    async def page(request):
        return await stream_template(app, "page.html", who="ann")

    with TestClient(app) as client:
        result = client.get("/")
    assert result.rsgi_call == "response_stream"
    assert result.text == "<p>hello, ann</p>"


async def test_stream_template_needs_app_or_engine():
    with pytest.raises(TypeError):
        await stream_template(object(), "x.html")
