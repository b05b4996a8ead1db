"""Urlencoded forms: get_form/form, models, limits and bad encodings."""

from __future__ import annotations

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.http.errors import BodyValidationError, RequestTooLarge
from gobstopper.http.form import parse_urlencoded
from gobstopper.http.validation import BodyTooLarge, FormValidationError, form_to_model
from gobstopper.middleware import LimitsMiddleware
from gobstopper.testing import TestClient

FORM = {"content-type": "application/x-www-form-urlencoded"}


class Signup(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []
    newsletter: bool = False
    nickname: str | None = None


def form_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/form")
    async def form(request):
        return {"form": await request.form()}

    @app.post("/get_form")
    async def get_form(request):
        first = await request.get_form()
        return {"form": first, "cached": first is await request.get_form()}

    @app.post("/signup")
    async def signup(request):
        value = await request.form(model=Signup)
        return msgspec.structs.asdict(value)

    @app.post("/caught")
    async def caught(request):
        try:
            await request.form(model=Signup)
        except BodyValidationError as exc:
            return {"caught": type(exc).__name__, "errors": exc.errors}, 400
        return {"caught": None}

    @app.post("/few", middleware=[LimitsMiddleware(max_form_fields=3)])
    async def few(request):
        return {"form": await request.get_form()}

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(form_app()) as c:
        yield c


def test_form_fields_and_repeated_values(client):
    response = client.post("/form", data={"name": "John", "hobbies": ["reading", "coding"]})
    assert response.json() == {"form": {"name": ["John"], "hobbies": ["reading", "coding"]}}


def test_blank_values_and_percent_encoding_kept(client):
    response = client.post("/form", content=b"a=&b=caf%C3%A9+au+lait&c", headers=FORM)
    assert response.json() == {"form": {"a": [""], "b": ["café au lait"], "c": [""]}}


def test_get_form_is_cached_and_empty_for_other_types(client):
    assert client.post("/get_form", data={"x": "1"}).json() == {
        "form": {"x": ["1"]},
        "cached": True,
    }
    assert client.post("/get_form", json={"x": 1}).json() == {"form": {}, "cached": False}
    assert client.post("/get_form").json() == {"form": {}, "cached": False}


def test_form_rejects_other_content_types(client):
    response = client.post("/form", json={"x": 1})
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.json()["error"]
    multipart = client.post(
        "/form", content=b"--b\r\n", headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert multipart.status_code == 415


def test_empty_form_is_none_or_required(client):
    assert client.post("/form", content=b"", headers=FORM).json() == {"form": None}
    assert client.post("/form").json() == {"form": None}
    required = client.post("/signup", content=b"", headers=FORM)
    assert required.status_code == 400
    assert required.json()["errors"] == [{"loc": ["body"], "msg": "Field required"}]


def test_model_conversion_from_strings(client):
    body = b"name=a&name=Ann&age=42&tags=x&tags=y&newsletter=true"
    response = client.post("/signup", content=body, headers=FORM)
    assert response.json() == {
        "name": "Ann",
        "age": 42,
        "tags": ["x", "y"],
        "newsletter": True,
        "nickname": None,
    }


def test_model_errors_name_the_field(client):
    response = client.post("/signup", data={"name": "Ann", "age": "old"})
    assert response.status_code == 400
    payload = response.json()
    assert "$.age" in payload["error"]
    assert payload["errors"] == [{"loc": ["body", "age"], "msg": "Expected `int`, got `str`"}]
    caught = client.post("/caught", data={"name": "Ann"})
    assert caught.json() == {
        "caught": "FormValidationError",
        "errors": [{"loc": ["body", "age"], "msg": "Field required"}],
    }


def test_invalid_utf8_is_400(client):
    for body in (b"name=%FF%FE", b"name=\xff"):
        response = client.post("/form", content=body, headers=FORM)
        assert response.status_code == 400
        assert "UTF-8" in response.json()["error"]


def test_too_many_fields_is_413(client):
    assert client.post("/few", content=b"a=1&b=2&c=3", headers=FORM).status_code == 200
    response = client.post("/few", content=b"a=1&b=2&c=3&d=4", headers=FORM)
    assert response.status_code == 413
    assert "Too many form fields (limit 3)" in response.json()["error"]


def test_a_million_ampersands_is_413_and_the_app_keeps_serving(client):
    response = client.post("/form", content=b"&" * 1_000_000, headers=FORM)
    assert response.status_code == 413
    assert client.post("/form", data={"ok": "1"}).json() == {"form": {"ok": ["1"]}}


def test_parse_urlencoded_errors_are_body_errors():
    with pytest.raises(BodyTooLarge) as info:
        parse_urlencoded(b"a&b&c", max_fields=2)
    assert isinstance(info.value, RequestTooLarge) and isinstance(info.value, BodyValidationError)
    assert parse_urlencoded(b"", 1) == {}


def test_form_to_model_keeps_lists_for_sequence_fields():
    value = form_to_model({"name": ["a"], "age": ["1"], "tags": ["p", "q"]}, Signup)
    assert (value.age, value.tags) == (1, ["p", "q"])
    with pytest.raises(FormValidationError) as info:
        form_to_model({"name": ["a"], "age": ["x"]}, Signup)
    assert isinstance(info.value, msgspec.ValidationError)
