"""Each error status the document promises is one the server really answers.

Schemathesis checks the other direction (every answer is documented); here
each framework error documented for ``openapi_app`` is provoked in-process
and must come back with that status and the documented ``ErrorResponse`` body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from openapi_spec_validator import validate

from gobstopper.openapi import openapi_document
from gobstopper.openapi.responses import ErrorResponse
from gobstopper.testing import TestClient
from tests.servers import ROOT

JSON = {"accept": "application/json"}
MULTIPART = "multipart/form-data; boundary=b"


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "tests" / "e2e" / "apps"))
        import openapi_app  # type: ignore[import-not-found]

        yield openapi_app.app


# (path template, method, status) -> how to provoke it.
PROVOKE: dict[tuple[str, str, int], dict[str, Any]] = {
    ("/pets/{pet_id}", "get", 400): {"url": "/pets/12345678901234567890"},
    ("/pets/{pet_id}", "get", 404): {"url": "/pets/99"},
    ("/pets/{pet_id}", "delete", 400): {"url": "/pets/x"},
    ("/pets/{pet_id}", "delete", 404): {"url": "/pets/1/more"},
    ("/pets/", "post", 400): {"content": b"--b\r\nbroken", "headers": {"content-type": MULTIPART}},
    ("/pets/", "post", 413): {"content": b"{}", "headers": {"content-length": str(11 * 2**20)}},
    ("/pets/", "post", 415): {"content": b"name=x", "headers": {"content-type": "text/plain"}},
    ("/pets/", "post", 422): {"json": {"name": 5}},
    ("/pets/visits/{pet}/{day}/{weight}/{note}", "get", 400): {
        "url": "/pets/visits/00000000-0000-0000-0000-000000000000/2024-02-30/1/n"
    },
    ("/pets/visits/{pet}/{day}/{weight}/{note}", "get", 404): {"url": "/pets/visits/x"},
    ("/files/{name}.txt", "get", 404): {"url": "/files/a/b.txt"},
    ("/web/notes", "post", 403): {},
}


def documented_errors(document: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in operation["responses"]:
                if status.isdigit() and int(status) >= 400:
                    yield path, method, int(status)


def test_the_apps_document_is_valid_openapi(app: Any):
    validate(openapi_document(app))


def test_every_documented_error_is_provoked_here(app: Any):
    assert set(documented_errors(openapi_document(app))) == set(PROVOKE)


@pytest.mark.parametrize(("path", "method", "status"), sorted(PROVOKE))
def test_the_server_answers_each_documented_error(app: Any, path: str, method: str, status: int):
    recipe = dict(PROVOKE[(path, method, status)])
    url = recipe.pop("url", path)
    headers = {**JSON, **recipe.pop("headers", {})}
    with TestClient(app) as client:
        response = client.request(method.upper(), url, headers=headers, **recipe)
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ErrorResponse)
    assert body.status == status
    if status == 422:
        assert body.errors and body.errors[0].loc[0] == "body"


def test_an_undocumented_method_is_a_405_with_allow(app: Any):
    with TestClient(app) as client:
        response = client.request("PATCH", "/pets/1", headers=JSON)
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert msgspec.json.decode(response.content, type=ErrorResponse).status == 405
