"""JSON bodies: get_json/json, media types, errors, models and nesting depth."""

from __future__ import annotations

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.http.errors import BodyValidationError, UnsupportedMediaType
from gobstopper.http.json_body import decode_json, nesting_exceeds
from gobstopper.http.validation import InvalidJSON, JSONValidationError, error_entry
from gobstopper.middleware import LimitsMiddleware
from gobstopper.testing import TestClient

JSON = {"content-type": "application/json"}


class Item(msgspec.Struct):
    name: str
    price: float


class Cart(msgspec.Struct):
    owner: str
    items: list[Item]


def json_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.post("/get_json")
    async def get_json(request):
        first = await request.get_json()
        return {"data": first, "cached": first is await request.get_json()}

    @app.post("/json")
    async def json_(request):
        return {"data": await request.json()}

    @app.post("/cart")
    async def cart(request):
        value = await request.json(model=Cart)
        return {"owner": value.owner, "n": len(value.items), "type": type(value).__name__}

    @app.post("/caught")
    async def caught(request):
        try:
            await request.get_json()
        except msgspec.DecodeError as exc:
            return {"caught": "DecodeError", "is_400": isinstance(exc, BodyValidationError)}, 400
        return {"caught": None}

    @app.post("/depth3", middleware=[LimitsMiddleware(max_json_depth=3)])
    async def depth3(request):
        return {"data": await request.get_json()}

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(json_app()) as c:
        yield c


def post(client, path, content: bytes, content_type="application/json"):
    headers = {"content-type": content_type} if content_type else {}
    return client.post(path, content=content, headers=headers)


def test_get_json_decodes_and_caches(client):
    assert client.post("/get_json", json={"a": [1, 2.5, None, "x"]}).json() == {
        "data": {"a": [1, 2.5, None, "x"]},
        "cached": True,
    }


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.api+json",
        "application/problem+json; charset=utf-8",
    ],
)
def test_json_media_types_accepted(client, content_type):
    assert post(client, "/json", b"[1]", content_type).json() == {"data": [1]}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp", None]
)
@pytest.mark.parametrize("path", ["/json", "/get_json", "/cart"])
def test_other_media_types_with_a_body_are_415(client, content_type, path):
    response = post(client, path, b'{"a": 1}', content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/json"])
def test_empty_body_is_none(client, content_type):
    assert post(client, "/json", b"", content_type).json() == {"data": None}


def test_empty_body_with_model_is_400(client):
    response = post(client, "/cart", b"")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": ["body"], "msg": "Field required"}]


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1',
        b"{'a': 1}",
        b"[1,]",
        b'{"a": 1} x',
        b"nul",
        b'{"a": "\xff\xfe"}',
        b"\xff",
        b'"\xed\xa0\x80"',
    ],
)
def test_invalid_json_is_400_unhandled_and_decode_error_when_handled(client, body):
    response = post(client, "/json", body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid JSON")
    caught = post(client, "/caught", body)
    assert caught.json() == {"caught": "DecodeError", "is_400": True}


def test_model_mismatch_names_the_field_path(client):
    response = client.post("/cart", json={"owner": "ann", "items": [{"name": "a", "price": "x"}]})
    assert response.status_code == 400
    payload = response.json()
    assert "$.items[0].price" in payload["error"]
    assert payload["errors"] == [
        {"loc": ["body", "items", 0, "price"], "msg": "Expected `float`, got `str`"}
    ]


def test_model_missing_field_and_wrong_shape(client):
    missing = client.post("/cart", json={"owner": "ann", "items": [{"name": "a"}]})
    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        {"loc": ["body", "items", 0, "price"], "msg": "Field required"}
    ]
    shape = client.post("/cart", json=[1, 2])
    assert shape.status_code == 400
    assert shape.json()["errors"] == [{"loc": ["body"], "msg": "Expected `object`, got `array`"}]


def test_model_success(client):
    response = client.post("/cart", json={"owner": "ann", "items": [{"name": "a", "price": 1}]})
    assert response.json() == {"owner": "ann", "n": 1, "type": "Cart"}


def test_depth_limit_from_middleware(client):
    assert post(client, "/depth3", b'[[["ok"]]]').json() == {"data": [[["ok"]]]}
    too_deep = post(client, "/depth3", b'[[[["no"]]]]')
    assert too_deep.status_code == 400
    assert "deeper than 3" in too_deep.json()["error"]
    assert post(client, "/depth3", b'{"a": {"b": {"c": 1}}}').status_code == 200
    assert post(client, "/depth3", b'{"a": {"b": {"c": {}}}}').status_code == 400


def test_default_depth_limit_is_64(client):
    assert post(client, "/json", b"[" * 64 + b"]" * 64).status_code == 200
    assert post(client, "/json", b"[" * 65 + b"]" * 65).status_code == 400


def test_hundred_thousand_deep_is_400_not_a_crash(client):
    for body in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000):
        response = post(client, "/json", body)
        assert response.status_code == 400
        assert "deeper than 64" in response.json()["error"]
    assert client.post("/json", json=[1]).status_code == 200


def test_decoder_recursion_is_400_even_with_a_huge_depth_limit():
    with pytest.raises(InvalidJSON, match="too deeply"):
        decode_json(b"[" * 50_000 + b"]" * 50_000, None, max_depth=10**9)


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b'["[[[[[[", "{{{{{{"]', False),  # brackets inside strings do not count
        (b'["\\"[[[[[[[[", 1]', False),  # an escaped quote does not end the string
        (b'["\\\\", [[[[[[]]]]]]]', True),  # an escaped backslash does end it
        (b'["\\\\\\"[[[[[[["]', False),  # backslash pair, then an escaped quote
        (b"[[[[[[]]]]]]", True),
        (b"[[],[],[],[],[],[],[],[]]", False),  # many brackets, shallow
        (b'{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}', True),
    ],
)
def test_nesting_scan_ignores_strings(body, deep):
    msgspec.json.decode(body)  # every case is valid JSON
    assert nesting_exceeds(body, 5) is deep


def test_nesting_scan_across_windows():
    wide = b"[" + b"[1]," * 40_000 + b"[[[[[[1]]]]]]]"
    assert nesting_exceeds(wide, 6) is True
    assert nesting_exceeds(wide, 7) is False


def test_unterminated_string_is_scanned_linearly_and_rejected():
    # Half a million escaped quotes and no closing quote: the brackets after
    # the opening quote are string content, and the decoder refuses the body.
    body = b'["' + b'\\"' * 500_000 + b"[" * 100
    assert nesting_exceeds(body, 64) is False
    with pytest.raises(InvalidJSON, match="truncated"):
        decode_json(body, None, 64)


def test_error_classes_are_catchable_as_msgspec_and_framework_errors():
    with pytest.raises(JSONValidationError) as info:
        decode_json(b'{"owner": 1, "items": []}', Cart, 64)
    exc = info.value
    assert isinstance(exc, msgspec.ValidationError)
    assert isinstance(exc, msgspec.DecodeError)
    assert isinstance(exc, BodyValidationError)
    assert exc.status_code == 400
    assert not isinstance(exc, UnsupportedMediaType)


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        (
            "Expected `int`, got `str` - at `$.a.b[3].c`",
            {"loc": ["body", "a", "b", 3, "c"], "msg": "Expected `int`, got `str`"},
        ),
        ("Object missing required field `x`", {"loc": ["body", "x"], "msg": "Field required"}),
        (
            "Object missing required field `x` - at `$.inner`",
            {"loc": ["body", "inner", "x"], "msg": "Field required"},
        ),
        (
            "Expected `int`, got `str` - at `$.m[...]`",
            {"loc": ["body", "m", "..."], "msg": "Expected `int`, got `str`"},
        ),
        ("Something else", {"loc": ["body"], "msg": "Something else"}),
    ],
)
def test_error_entries(message, entry):
    assert error_entry(message) == entry


def _depth_of(value) -> int:
    """Reference nesting depth of a decoded value (iterative)."""
    best, stack = 0, [(value, 1 if isinstance(value, (list, dict)) else 0)]
    while stack:
        item, depth = stack.pop()
        best = max(best, depth)
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return best


def _random_value(rnd, depth: int):
    roll = rnd.random()
    if depth > 9 or roll < 0.3:
        return rnd.choice([1, "x", "[{", "]}", '\\"[', "\\\\", "", '"]"', None, 'a\\\\"[[['])
    if roll < 0.65:
        return [_random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    keys = ["k", "[", "}", '\\"', ""]
    return {
        rnd.choice(keys) + str(i): _random_value(rnd, depth + 1) for i in range(rnd.randint(0, 4))
    }


def test_nesting_scan_agrees_with_the_decoded_depth():
    import random

    rnd = random.Random(20261127)
    for _ in range(3000):
        value = _random_value(rnd, 0)
        body = msgspec.json.encode(value)
        depth = _depth_of(value)
        for limit in (0, 1, 2, 3, 5, 8):
            assert nesting_exceeds(body, limit) is (depth > limit), (body, depth, limit)
