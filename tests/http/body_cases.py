"""The reference's body examples as requests and the answers it promises.

``CASES`` is sent to tests/e2e/apps/bodies_app.py twice: in-process by
tests/http/test_body_examples.py and over the wire to Granian by
tests/e2e/test_bodies.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.bodies import MULTIPART, multipart_body

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass
class Case:
    """One request and the answer the reference promises."""

    id: str
    path: str
    kwargs: dict[str, Any]
    status: int
    expect: dict[str, Any] | Callable[[Any], bool] | None = None
    method: str = "POST"

    def check(self, status: int, payload: Any) -> None:
        assert status == self.status, (self.id, status, payload)
        if callable(self.expect):
            assert self.expect(payload), (self.id, payload)
        elif self.expect is not None:
            assert payload == self.expect, self.id


USER = {"name": "Ann", "email": "ann@example.com", "age": 36}
ORDER = {"item": "tea", "quantity": 2, "tags": ["hot"], "ship_to": {"city": "Oslo"}}

CASES = [
    # get_data / get_body
    Case("raw", "/upload/raw", {"content": b"x" * 1000}, 200, {"received_bytes": 1000}),
    Case("raw-empty", "/upload/raw", {}, 200, {"received_bytes": 0}),
    Case("size-ok", "/upload", {"content": b"x" * 1024}, 200, {"size": 1024}),
    Case("size-handled", "/upload", {"content": b"x" * 1025}, 413, {"error": "File too large"}),
    Case(
        "size-unhandled",
        "/upload/small",
        {"content": b"x" * 1025},
        413,
        lambda p: "too large" in p["error"],
    ),
    # get_json / json
    Case("get_json", "/api/data", {"json": {"a": [1, 2]}}, 200, {"received": {"a": [1, 2]}}),
    Case(
        "get_json-invalid",
        "/api/data",
        {"content": b'{"a": ', "headers": JSON},
        400,
        {"error": "Invalid JSON"},
    ),
    Case(
        "get_json-bad-utf8",
        "/api/data",
        {"content": b'["\xff"]', "headers": JSON},
        400,
        {"error": "Invalid JSON"},
    ),
    Case("json", "/json", {"json": [1, "two", None]}, 200, {"received": [1, "two", None]}),
    Case(
        "json+suffix",
        "/json",
        {"content": b'{"title": "x"}', "headers": {"content-type": "application/problem+json"}},
        200,
        {"received": {"title": "x"}},
    ),
    Case(
        "json-truncated",
        "/json",
        {"content": b'{"a": [1, 2', "headers": JSON},
        400,
        lambda p: p["error"].startswith("Invalid JSON"),
    ),
    Case(
        "json-wrong-type",
        "/json",
        {"content": b'{"a": 1}', "headers": {"content-type": "text/plain"}},
        415,
        lambda p: "application/json" in p["error"],
    ),
    Case(
        "json-depth",
        "/json/shallow",
        {"content": b"[[[[1]]]]", "headers": JSON},
        400,
        lambda p: "deeper than 3" in p["error"],
    ),
    Case(
        "json-depth-ok",
        "/json/shallow",
        {"content": b"[[[1]]]", "headers": JSON},
        200,
        {"received": [[[1]]]},
    ),
    Case(
        "json-model",
        "/api/users",
        {"json": USER},
        200,
        {"created": "Ann", "email": "ann@example.com"},
    ),
    Case(
        "json-model-handled",
        "/api/users",
        {"json": {**USER, "age": "old"}},
        400,
        lambda p: "$.age" in p["error"],
    ),
    Case(
        "json-model-unhandled",
        "/api/users/unhandled",
        {"json": {"name": "Ann"}},
        400,
        lambda p: p["errors"] == [{"loc": ["body", "email"], "msg": "Field required"}],
    ),
    Case(
        "json-model-empty",
        "/api/users/unhandled",
        {"headers": JSON},
        400,
        lambda p: p["errors"] == [{"loc": ["body"], "msg": "Field required"}],
    ),
    Case("json-optional-empty", "/api/optional", {}, 200, {"message": "No data provided"}),
    Case("json-optional", "/api/optional", {"json": {"k": 1}}, 200, {"data": {"k": 1}}),
    Case(
        "json-strict",
        "/api/strict",
        {"content": b"a=1", "headers": FORM},
        415,
        {"error": "Content-Type must be application/json"},
    ),
    # typed parameters
    Case(
        "typed",
        "/orders",
        {"json": ORDER},
        200,
        {"item": "tea", "quantity": 2, "tags": ["hot"], "city": "Oslo"},
    ),
    Case(
        "typed-form",
        "/orders",
        {"data": {"item": "tea", "quantity": "3"}},
        200,
        {"item": "tea", "quantity": 3, "tags": [], "city": None},
    ),
    Case(
        "typed-invalid",
        "/orders",
        {"json": {"item": "tea", "quantity": "lots"}},
        422,
        lambda p: (
            p["errors"] == [{"loc": ["body", "quantity"], "msg": "Expected `int`, got `str`"}]
        ),
    ),
    Case(
        "typed-nested",
        "/orders",
        {"json": {**ORDER, "ship_to": {}}},
        422,
        lambda p: p["errors"] == [{"loc": ["body", "ship_to", "city"], "msg": "Field required"}],
    ),
    Case("typed-missing", "/orders", {}, 422, None),
    Case("typed-optional", "/orders/optional", {}, 200, {"order": None}),
    Case("typed-sync", "/orders/sync/7", {"json": ORDER}, 200, {"shop": 7, "item": "tea"}),
    Case(
        "typed-415",
        "/orders",
        {"content": b"tea", "headers": {"content-type": "text/plain"}},
        415,
        None,
    ),
    # form / get_form
    Case(
        "form",
        "/submit",
        {"data": {"name": "John", "email": "john@example.com"}},
        200,
        {"name": "John", "email": "john@example.com"},
    ),
    Case(
        "form-multi",
        "/preferences",
        {"data": {"hobbies": ["reading", "coding", "gaming"]}},
        200,
        {"hobbies": ["reading", "coding", "gaming"]},
    ),
    Case(
        "form-model",
        "/login",
        {"data": {"username": "ann", "password": "pw"}},
        200,
        {"username": "ann"},
    ),
    Case(
        "form-model-invalid",
        "/login",
        {"data": {"username": "ann"}},
        400,
        {"error": "Invalid form data"},
    ),
    Case(
        "form-strict",
        "/form/strict",
        {"json": {"a": 1}},
        415,
        {"error": "Content-Type must be application/x-www-form-urlencoded"},
    ),
    Case("form-unhandled-415", "/submit", {"json": {"a": 1}}, 415, None),
    Case(
        "get_form-multipart",
        "/form/any",
        {"content": multipart_body({"a": "1"}, {"f": ("f.txt", b"file")}), "headers": MULTIPART},
        200,
        {"form": {"a": ["1"]}},
    ),
    Case("process-json", "/process", {"json": {"a": 1}}, 200, {"received": True, "data": {"a": 1}}),
    Case(
        "process-form",
        "/process",
        {"data": {"a": "1"}},
        200,
        {"received": True, "data": {"a": ["1"]}},
    ),
    Case(
        "process-other", "/process", {"content": b"x"}, 415, {"error": "Unsupported content type"}
    ),
    # multipart (text fields)
    Case(
        "multipart",
        "/form/multipart",
        {"content": multipart_body({"name": "Ann", "email": "a@x"}), "headers": MULTIPART},
        200,
        {"name": "Ann", "email": "a@x"},
    ),
    Case(
        "multipart-file-refused",
        "/form/multipart",
        {"content": multipart_body({"name": "Ann"}, {"f": ("f.txt", b"x")}), "headers": MULTIPART},
        400,
        None,
    ),
    Case(
        "multipart-limited-ok",
        "/upload/limited",
        {"content": multipart_body({"a": "1"}), "headers": MULTIPART},
        200,
        {"status": "success"},
    ),
    Case(
        "multipart-limited",
        "/upload/limited",
        {"content": multipart_body({"a": "x" * (1024 * 1024)}), "headers": MULTIPART},
        413,
        lambda p: "max_size" in p["error"],
    ),
    Case(
        "multipart-model",
        "/contact",
        {
            "content": multipart_body({"name": "Ann", "email": "a@x", "message": "hi"}),
            "headers": MULTIPART,
        },
        200,
        {"received": "Ann"},
    ),
    Case(
        "multipart-model-invalid",
        "/contact",
        {"content": multipart_body({"name": "Ann"}), "headers": MULTIPART},
        400,
        {"error": "Invalid form data"},
    ),
    # uploads
    Case(
        "upload-none",
        "/upload/avatar",
        {"content": multipart_body({"a": "1"}), "headers": MULTIPART},
        400,
        {"error": "No file uploaded"},
    ),
    Case(
        "upload-info",
        "/upload/info",
        {
            "content": multipart_body({"n": "1"}, {"doc": ("../../x.txt", b"abc")}),
            "headers": MULTIPART,
        },
        200,
        lambda p: (
            p["form"] == {"n": ["1"]}
            and p["files"]["doc"]["filename"] == "x.txt"
            and p["files"]["doc"]["raw_filename"] == "../../x.txt"
            and p["files"]["doc"]["size"] == 3
            and p["files"]["doc"]["in_memory"] is True
        ),
    ),
    # limits per blueprint and route
    Case("bp-fields", "/strict/form", {"data": {f"f{i}": "1" for i in range(6)}}, 413, None),
    Case("bp-fields-ok", "/strict/form", {"data": {f"f{i}": "1" for i in range(5)}}, 200, None),
    Case(
        "bp-files",
        "/strict/files",
        {
            "content": multipart_body(files={"a": ("a", b"1"), "b": ("b", b"2")}),
            "headers": MULTIPART,
        },
        413,
        lambda p: "Too many files" in p["error"],
    ),
    Case(
        "bp-file-bytes",
        "/strict/files",
        {"content": multipart_body(files={"a": ("a", b"1" * 1001)}), "headers": MULTIPART},
        413,
        lambda p: "Uploaded file too large" in p["error"],
    ),
    Case(
        "bp-file-ok",
        "/strict/files",
        {"content": multipart_body(files={"a": ("a", b"1" * 1000)}), "headers": MULTIPART},
        200,
        {"files": ["a"]},
    ),
    Case("bp-body", "/strict/form", {"data": {"a": "x" * 5000}}, 413, None),
    Case("bp-route-json", "/strict/json", {"json": [[1]]}, 200, {"received": [[1]], "limit": 4096}),
    Case("bp-route-json-deep", "/strict/json", {"json": [[[1]]]}, 400, None),
]
