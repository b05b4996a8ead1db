"""Typed body parameters: a msgspec.Struct annotation receives the validated body."""

from __future__ import annotations

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.core.pipeline import bind_handler
from gobstopper.http.errors import BodyValidationError, UnprocessableEntity
from gobstopper.http.injection import REQUIRED, body_parameter
from gobstopper.middleware import LimitsMiddleware
from gobstopper.testing import TestClient
from tests.bodies import BOUNDARY, MULTIPART, multipart_body


class Pet(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []


class Owner(msgspec.Struct):
    pet: Pet
    email: str


def typed_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/pets")
    async def create(request, pet: Pet):
        return {"name": pet.name, "age": pet.age, "tags": pet.tags}

    @app.post("/shops/<int:shop>/pets")
    def create_sync(request, shop: int, pet: Pet):
        return {"shop": shop, "pet": pet.name}

    @app.post("/maybe")
    async def maybe(request, pet: Pet | None):
        return {"pet": None if pet is None else pet.name}

    @app.post("/owners")
    async def owner(request, owner: Owner):
        return {"pet": owner.pet.name}

    @app.post("/deep", middleware=[LimitsMiddleware(max_json_depth=2)])
    async def deep(request, owner: Owner):
        return {"pet": owner.pet.name}

    @app.post("/plain")
    async def plain(request):
        return {"untyped": True}

    @app.error_handler(422)
    async def on_422(request, error):
        if request.path == "/owners":
            return {"custom": error.errors}, 422
        return {"error": error.description, "errors": error.errors}, 422

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(typed_app()) as c:
        yield c


def test_json_body_is_injected(client):
    response = client.post("/pets", json={"name": "Rex", "age": 3, "tags": ["good"]})
    assert response.json() == {"name": "Rex", "age": 3, "tags": ["good"]}


def test_urlencoded_and_multipart_bodies_are_injected(client):
    assert client.post("/pets", data={"name": "Rex", "age": "3", "tags": ["a", "b"]}).json() == {
        "name": "Rex",
        "age": 3,
        "tags": ["a", "b"],
    }
    response = client.post(
        "/pets",
        content=multipart_body({"name": "Tom", "age": "7"}),
        headers=MULTIPART,
    )
    assert response.json() == {"name": "Tom", "age": 7, "tags": []}


def test_sync_handlers_and_path_parameters(client):
    assert client.post("/shops/9/pets", json={"name": "Rex", "age": 1}).json() == {
        "shop": 9,
        "pet": "Rex",
    }


def test_validation_failures_are_422_with_a_list_of_errors(client):
    response = client.post("/pets", json={"name": "Rex", "age": "three"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "age"], "msg": "Expected `int`, got `str`"}
    ]
    nested = client.post("/owners", json={"email": "a@b", "pet": {"name": "Rex"}})
    assert nested.status_code == 422
    assert nested.json() == {"custom": [{"loc": ["body", "pet", "age"], "msg": "Field required"}]}


@pytest.mark.parametrize("body", [b'{"name": ', b"[1, 2]", b'{"name": "\xff"}'])
def test_undecodable_json_is_422(client, body):
    response = client.post("/pets", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][0] == "body"


def test_too_deep_is_422_and_form_decoding_errors_are_422(client):
    deep = client.post("/deep", json={"email": "a", "pet": {"name": "x", "age": 1, "tags": []}})
    assert deep.status_code == 422
    bad_utf8 = client.post(
        "/pets",
        content=b"name=%FF&age=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert bad_utf8.status_code == 422


def test_empty_body_is_required_or_default(client):
    required = client.post("/pets")
    assert required.status_code == 422
    assert required.json()["errors"] == [{"loc": ["body"], "msg": "Field required"}]
    assert client.post("/maybe").json() == {"pet": None}
    assert client.post("/maybe", json={"name": "R", "age": 1}).json() == {"pet": "R"}
    empty_multipart = client.post("/maybe", content=b"", headers=MULTIPART)
    assert empty_multipart.json() == {"pet": None}


def test_other_content_types_are_415_and_limits_stay_413(client):
    assert (
        client.post(
            "/pets", content=b"name=Rex", headers={"content-type": "text/plain"}
        ).status_code
        == 415
    )
    huge = client.post("/pets", data={f"f{i}": "1" for i in range(2000)})
    assert huge.status_code == 413


def test_malformed_multipart_stays_400(client):
    response = client.post(
        "/pets",
        content=f"--{BOUNDARY}\r\nbroken".encode(),
        headers=MULTIPART,
    )
    assert response.status_code == 400


def test_untyped_handlers_are_unchanged(client):
    assert client.post("/plain", json={"x": 1}).json() == {"untyped": True}


def test_the_error_is_a_body_validation_error_and_unprocessable_entity():
    from gobstopper.http.validation import RequestValidationError

    error = RequestValidationError("x", [])
    assert isinstance(error, BodyValidationError) and isinstance(error, UnprocessableEntity)
    assert error.status_code == 422


# -- signature inspection, once at registration -------------------------------------
def test_body_parameter_reads_postponed_annotations():
    async def handler(request, pet: Pet, other: int = 0): ...

    assert handler.__annotations__["pet"] == "Pet"  # from __future__ import annotations
    param = body_parameter(handler)
    assert param is not None and (param.name, param.model, param.default) == ("pet", Pet, REQUIRED)


DEFAULT_PET = Pet("x", 1)


def test_optional_and_default_values():
    async def optional(request, pet: Pet | None): ...
    async def defaulted(request, pet: Pet = DEFAULT_PET): ...

    assert body_parameter(optional).default is None
    assert body_parameter(defaulted).default is DEFAULT_PET


def test_unresolvable_annotations_do_not_break_registration():
    async def handler(request, pet: Pet, ghost: NoSuchType): ...  # noqa: F821

    param = body_parameter(handler)
    assert param is not None and param.model is Pet


def test_no_body_parameter():
    async def handler(request, user_id: int, q: str | None = None): ...

    assert body_parameter(handler) is None
    assert body_parameter(len) is None


def test_callable_instances():
    class Handler:
        async def __call__(self, request, pet: Pet):
            return {"pet": pet.name}

    param = body_parameter(Handler())
    assert param is not None and param.model is Pet


def test_two_body_parameters_are_refused_at_registration():
    async def handler(request, pet: Pet, owner: Owner): ...

    with pytest.raises(TypeError, match="several body parameters"):
        bind_handler(handler)
