"""Response models: ``-> User`` encodes the return value as a User, or fails loudly."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import msgspec
import pytest

from gobstopper import Gobstopper, JSONResponse, Request, Response
from gobstopper.http.coercion import to_response
from gobstopper.http.response_models import (
    ResponseValidationError,
    response_encoder,
    response_model,
)
from gobstopper.testing import TestClient


class Address(msgspec.Struct):
    city: str


class User(msgspec.Struct):
    id: int
    name: str
    address: Address | None = None


@dataclasses.dataclass
class Row:
    """An ORM-like object with more attributes than the model."""

    id: int
    name: str
    password: str
    address: None = None


async def one(request: Any) -> User: ...
async def many(request: Any) -> list[User]: ...
async def either(request: Any) -> User | Response: ...
async def maybe(request: Any) -> User | None: ...
async def pair(request: Any) -> tuple[User, User]: ...
async def plain(request: Any) -> dict[str, int]: ...
async def page(request: Any) -> str: ...
async def responds(request: Any) -> JSONResponse: ...
async def nothing(request: Any) -> None: ...
async def bare(request): ...  # type: ignore[no-untyped-def]


@pytest.mark.parametrize(
    ("handler", "model"),
    [
        (one, User),
        (many, list[User]),
        (either, User),
        (maybe, User | None),
        (pair, tuple[User, User]),
        (plain, None),
        (page, None),
        (responds, None),
        (nothing, None),
        (bare, None),
    ],
)
def test_only_annotations_naming_a_model_are_response_models(handler: Any, model: Any):
    assert response_model(handler) == model
    assert (response_encoder(handler) is None) == (model is None)


def encode(handler: Any, value: Any) -> Any:
    encoder = response_encoder(handler)
    assert encoder is not None
    return to_response(encoder(value))


def test_fields_the_model_does_not_declare_are_dropped():
    response = encode(one, {"id": 1, "name": "ann", "password": "secret"})
    assert (response.status, response.body) == (200, b'{"id":1,"name":"ann","address":null}')
    assert response.headers["content-type"] == "application/json"
    rows = encode(many, [Row(1, "ann", "secret"), User(2, "bob", Address("Oslo"))])
    assert msgspec.json.decode(rows.body) == [
        {"id": 1, "name": "ann", "address": None},
        {"id": 2, "name": "bob", "address": {"city": "Oslo"}},
    ]


@pytest.mark.parametrize(
    ("handler", "value", "where"),
    [
        (one, {"id": "1", "name": "ann"}, "$.id"),
        (one, User("1", "ann"), "$.id"),  # type: ignore[arg-type]
        (many, [User(1, "a"), {"id": 2}], "$[1]"),
        (many, [User(1, "a", Address(5))], "$[0].address.city"),  # type: ignore[arg-type]
        (one, None, "got `null`"),
        (one, object(), "Object missing required field `id`"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_bad_field(handler: Any, value: Any, where: str):
    expected = "list[User]" if handler is many else "User"
    with pytest.raises(
        ResponseValidationError,
        match=f"^{handler.__name__} returned a value that does not match "
        f"{re.escape(expected)}: .*{re.escape(where)}",
    ):
        encode(handler, value)


def test_responses_pass_through_and_tuples_keep_their_status_and_headers():
    redirect = Response("", status=302, headers={"location": "/"})
    assert encode(either, redirect) is redirect
    created = encode(one, ({"id": 1, "name": "ann", "extra": 1}, 201, {"x-id": "1"}))
    assert (created.status, created.headers["x-id"]) == (201, "1")
    assert msgspec.json.decode(created.body) == {"id": 1, "name": "ann", "address": None}
    both = encode(pair, (User(1, "a"), User(2, "b")))
    assert both.status == 200
    assert [u["id"] for u in msgspec.json.decode(both.body)] == [1, 2]


def test_null_is_encoded_when_the_model_allows_it():
    assert encode(maybe, None).body == b"null"


def app_with_encoded_route(debug: bool) -> Gobstopper:
    """An app whose route applies the encoder as the pipeline hook will."""
    app = Gobstopper(debug=debug)
    encoder = response_encoder(one)
    assert encoder is not None

    @app.get("/user")
    async def user(request: Request) -> Any:
        return encoder({"id": "not a number", "name": "ann"})

    return app


def test_a_bad_return_value_is_a_500_that_names_the_field_only_in_debug(
    caplog: pytest.LogCaptureFixture,
):
    with TestClient(app_with_encoded_route(debug=True)) as client:
        response = client.get("/user", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert "Expected `int`, got `str` - at `$.id`" in response.json()["exception"]
    with TestClient(app_with_encoded_route(debug=False)) as client:
        response = client.get("/user", headers={"accept": "application/json"})
    assert response.json() == {"error": "Internal Server Error", "status": 500}
    assert "returned a value that does not match User" in caplog.text
