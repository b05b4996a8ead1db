"""The reference's body examples (tests/e2e/apps/bodies_app.py), run in-process.

The cases live in tests/http/body_cases.py; tests/e2e/test_bodies.py sends
the same requests to the same app served by Granian.
"""

from __future__ import annotations

import pytest

from gobstopper.testing import TestClient
from tests.bodies import MULTIPART, multipart_body
from tests.http.body_cases import CASES


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.e2e.apps.bodies_app import app

    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_documented_example(client, case):
    response = client.request(case.method, case.path, **case.kwargs)
    case.check(response.status_code, response.json())


def test_upload_examples_save_files(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "uploads").mkdir()
    body = multipart_body({"name": "ann"}, {"avatar": ("me.png", b"\x89PNG-data")})
    assert client.post("/upload/avatar", content=body, headers=MULTIPART).json() == {
        "uploaded": "me.png"
    }
    assert (tmp_path / "uploads" / "me.png").read_bytes() == b"\x89PNG-data"
    assert client.post("/profile", content=body, headers=MULTIPART).json() == {
        "name": "ann",
        "avatar": True,
    }
    assert (tmp_path / "uploads" / "ann_avatar.jpg").read_bytes() == b"\x89PNG-data"
    assert client.post("/upload/property", content=body, headers=MULTIPART).json() == {
        "uploaded": True
    }
    assert (tmp_path / "uploads" / "avatar.jpg").exists()
    two = multipart_body(files={"a": ("a.txt", b"A"), "b": ("b.txt", b"B")})
    assert client.post("/upload-multiple", content=two, headers=MULTIPART).json() == {
        "uploaded": ["a.txt", "b.txt"]
    }
    assert (tmp_path / "uploads" / "b.txt").read_bytes() == b"B"
    traversal = multipart_body(files={"avatar": ("../../escape.txt", b"E")})
    assert client.post("/upload/avatar", content=traversal, headers=MULTIPART).json() == {
        "uploaded": "escape.txt"
    }
    assert (tmp_path / "uploads" / "escape.txt").exists()
    assert not (tmp_path.parent / "escape.txt").exists()
