"""openapi_document(app): every route described from what the app already knows."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
import pytest
from openapi_spec_validator import validate

from gobstopper import Blueprint, Gobstopper, Request
from gobstopper.middleware import SecurityMiddleware
from gobstopper.openapi import builder, openapi_document, operation
from tests.openapi import other_models


class User(msgspec.Struct):
    id: int
    name: str


class NewUser(msgspec.Struct):
    name: str
    tags: list[str] = []


class Address(msgspec.Struct):
    city: str


class Order(msgspec.Struct):
    item: str
    ship_to: Address


def document(app: Gobstopper) -> dict[str, Any]:
    """The app's document, checked against the OpenAPI 3.1 schema first."""
    found = openapi_document(app)
    validate(found)
    return found


def op(doc: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    return doc["paths"][path][method]


def test_an_empty_app_is_a_valid_document_named_after_the_app():
    doc = document(Gobstopper("shop"))
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "shop", "version": "0.1.0"}
    assert doc["paths"] == {}
    assert set(doc["components"]["responses"]) == {
        "BadRequest",
        "Forbidden",
        "NotFound",
        "MethodNotAllowed",
        "RequestTooLarge",
        "UnsupportedMediaType",
        "UnprocessableEntity",
    }


def test_each_route_and_method_is_an_operation_with_its_path_template():
    app = Gobstopper()

    @app.route("/items/<int:item_id>", methods=["GET", "PUT"])
    async def item(request: Request, item_id: int):
        return {}

    @app.get("/files/<name>.txt")
    async def text(request: Request, name: str):
        return name

    doc = document(app)
    assert set(doc["paths"]) == {"/items/{item_id}", "/files/{name}.txt"}
    assert set(doc["paths"]["/items/{item_id}"]) == {"get", "put"}
    assert op(doc, "/items/{item_id}", "put")["operationId"] == "item_put"
    assert op(doc, "/files/{name}.txt")["operationId"] == "text"


@pytest.mark.parametrize(
    ("converter", "schema"),
    [
        ("int", {"type": "integer", "minimum": 0, "maximum": 10**19 - 1}),
        (
            "float",
            {"type": "string", "format": "decimal", "pattern": r"^[0-9]{1,30}(\.[0-9]{1,30})?$"},
        ),
        ("uuid", {"type": "string", "format": "uuid"}),
        ("date", {"type": "string", "format": "date"}),
        ("path", {"type": "string", "pattern": "^[^/]"}),
        ("str", {"type": "string", "pattern": "^[^/]+$"}),
    ],
)
def test_path_parameters_carry_their_converters_type(converter: str, schema: dict[str, Any]):
    app = Gobstopper()

    @app.get(f"/x/<{converter}:value>")
    async def handler(request: Request, value: Any):
        return {}

    parameter = op(document(app), "/x/{value}")["parameters"][0]
    assert parameter == {"name": "value", "in": "path", "required": True, "schema": schema}


def test_a_float_parameter_documents_exactly_what_the_router_accepts():
    import re

    app = Gobstopper()

    @app.get("/w/<float:weight>")
    async def weigh(request: Request, weight: float):
        return {"weight": weight}

    pattern = re.compile(op(document(app), "/w/{weight}")["parameters"][0]["schema"]["pattern"])
    from gobstopper.testing import TestClient

    with TestClient(app) as client:
        for text in ("2", "2.5", "0.001", "1e-05", "1.5e3", "-1", ".5"):
            accepted = client.get(f"/w/{text}").status_code == 200
            assert accepted == bool(pattern.match(text)), text


def test_path_parameter_errors_are_documented_only_where_they_can_happen():
    app = Gobstopper()

    @app.get("/static")
    async def fixed(request: Request):
        return {}

    @app.get("/by-name/<name>")
    async def by_name(request: Request, name: str):
        return {}

    @app.get("/by-id/<int:item_id>")
    async def by_id(request: Request, item_id: int):
        return {}

    doc = document(app)
    assert set(op(doc, "/static")["responses"]) == {"200"}
    assert set(op(doc, "/by-name/{name}")["responses"]) == {"200", "404"}
    assert op(doc, "/by-id/{item_id}")["responses"]["400"] == {
        "$ref": "#/components/responses/BadRequest"
    }


def test_a_struct_parameter_is_the_request_body_in_json_and_forms():
    app = Gobstopper()

    @app.post("/users")
    async def create(request: Request, user: NewUser):
        return {}

    operation_ = op(document(app), "/users", "post")
    body = operation_["requestBody"]
    assert body["required"] is True
    ref = {"$ref": "#/components/schemas/NewUser"}
    assert body["content"]["application/json"] == {"schema": ref}
    assert body["content"]["application/x-www-form-urlencoded"] == {"schema": ref}
    assert body["content"]["multipart/form-data"]["schema"]["allOf"] == [ref]
    assert set(operation_["responses"]) == {"200", "400", "413", "415", "422"}


def test_a_model_with_nested_objects_is_json_only_and_an_optional_one_not_required():
    app = Gobstopper()

    @app.post("/orders")
    async def order(request: Request, order: Order | None):
        return {}

    body = op(document(app), "/orders", "post")["requestBody"]
    assert body["required"] is False
    assert list(body["content"]) == ["application/json"]


def test_file_fields_are_binary_multipart_parts():
    app = Gobstopper()

    @app.post("/avatar")
    @operation(files=["picture"])
    async def avatar(request: Request):
        return {}

    @app.post("/profile")
    @operation(files=["picture"])
    async def profile(request: Request, user: NewUser):
        return {}

    doc = document(app)
    only_files = op(doc, "/avatar", "post")["requestBody"]
    assert only_files["required"] is False
    picture = only_files["content"]["multipart/form-data"]["schema"]["properties"]["picture"]
    assert picture == {
        "type": "string",
        "format": "binary",
        "contentMediaType": "application/octet-stream",
    }
    with_model = op(doc, "/profile", "post")["requestBody"]["content"]["multipart/form-data"]
    assert with_model["schema"]["allOf"][1]["properties"] == {"picture": picture}


def test_typed_keyword_arguments_are_query_parameters():
    app = Gobstopper()

    @app.get("/search/<int:page>")
    async def search(
        request: Request,
        page: int,
        q: str = "",
        limit: int = 10,
        tag: list[str] | None = None,
        sort: uuid.UUID | None = None,
    ):
        return {}

    operation_ = op(document(app), "/search/{page}")
    query = {p["name"]: p for p in operation_["parameters"] if p["in"] == "query"}
    assert list(query) == ["q", "limit", "tag", "sort"]
    assert query["limit"] == {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "default": 10},
    }
    assert query["tag"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert "422" in operation_["responses"]


def test_the_return_annotation_is_the_success_response():
    app = Gobstopper()

    @app.get("/one")
    async def one(request: Request) -> User:
        return User(1, "a")

    @app.get("/many")
    async def many(request: Request) -> list[User]:
        return []

    @app.post("/nothing")
    async def nothing(request: Request) -> None:
        return None

    @app.get("/untyped")
    async def untyped(request: Request) -> dict[str, int]:
        return {}

    doc = document(app)
    assert op(doc, "/one")["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"
    }
    assert op(doc, "/many")["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/User"},
    }
    assert op(doc, "/nothing", "post")["responses"] == {"204": {"description": "No Content"}}
    assert op(doc, "/untyped")["responses"] == {"200": {"description": "Successful Response"}}
    assert doc["components"]["schemas"]["User"]["required"] == ["id", "name"]


def test_explicit_responses_add_to_and_replace_the_inferred_ones():
    app = Gobstopper()

    @app.post("/users/<int:user_id>")
    @operation(
        responses={
            201: "Created",
            404: "No such user",
            409: {"description": "Taken"},
            "default": User,
        }
    )
    async def create(request: Request, user_id: int) -> User:
        return User(user_id, "a")

    responses = op(document(app), "/users/{user_id}", "post")["responses"]
    assert list(responses) == ["201", "400", "404", "409", "default"]
    assert responses["201"]["description"] == "Created"
    assert responses["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"
    }
    assert responses["404"]["description"] == "No such user"
    assert responses["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert responses["409"] == {"description": "Taken"}


def test_the_error_shape_is_the_one_the_framework_sends():
    doc = document(Gobstopper())
    schemas = doc["components"]["schemas"]
    assert schemas["ErrorResponse"]["required"] == ["error", "status"]
    assert set(schemas["ErrorResponse"]["properties"]) == {"error", "status", "errors", "exception"}
    assert schemas["ValidationIssue"]["required"] == ["loc", "msg"]
    unprocessable = doc["components"]["responses"]["UnprocessableEntity"]["content"]
    assert set(unprocessable) == {"application/json", "text/html"}
    assert "Allow" in doc["components"]["responses"]["MethodNotAllowed"]["headers"]


def test_docstrings_tags_deprecation_and_exclusion():
    app = Gobstopper()
    admin = Blueprint("admin", "/admin")
    reports = Blueprint("reports", "/reports")

    @reports.get("/daily")
    async def daily(request: Request):
        """Today's report.

        Counted at midnight UTC.
        """
        return {}

    @admin.get("/old")
    @operation(deprecated=True, tags=["legacy"], summary="Old stuff")
    async def old(request: Request):
        """Ignored summary."""
        return {}

    @app.get("/hidden")
    @operation(include_in_schema=False)
    async def hidden(request: Request):
        return {}

    admin.register_blueprint(reports)
    app.register_blueprint(admin)
    doc = document(app)
    daily_op = op(doc, "/admin/reports/daily")
    assert daily_op["tags"] == ["admin.reports"]
    assert daily_op["summary"] == "Today's report."
    assert daily_op["description"] == "Counted at midnight UTC."
    assert daily_op["operationId"] == "admin.reports.daily"
    old_op = op(doc, "/admin/old")
    assert (old_op["tags"], old_op["summary"], old_op["deprecated"]) == (
        ["legacy"],
        "Old stuff",
        True,
    )
    assert "/hidden" not in doc["paths"]
    assert doc["tags"] == [{"name": "legacy"}, {"name": "admin.reports"}]


def test_operation_ids_stay_unique():
    app, sub = Gobstopper(), Gobstopper("sub")

    @app.get("/a")
    async def ping(request: Request):
        return {}

    @sub.get("/a")
    async def ping_sub(request: Request):
        return {}

    sub.add_url_rule("/b", ping_sub, name="ping")
    app.mount("/sub", sub)
    ids = [item["get"]["operationId"] for item in document(app)["paths"].values()]
    assert ids == ["ping", "ping_sub", "ping_2"]


def test_security_middleware_adds_the_session_cookie_and_csrf_header():
    app = Gobstopper()
    web = Blueprint("web", "/web")
    web.add_middleware(SecurityMiddleware(secret_key="k" * 32, cookie_name="sid"))

    @web.route("/form", methods=["GET", "POST"])
    async def form(request: Request):
        return "ok"

    @app.post("/api")
    async def api(request: Request):
        return {}

    app.register_blueprint(web)
    doc = document(app)
    cookie = "sessionCookie-sid"
    assert doc["components"]["securitySchemes"] == {
        cookie: {
            "type": "apiKey",
            "in": "cookie",
            "name": "sid",
            "description": "Session id set by the server after the session is first written",
        },
        "csrfToken": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "The session's CSRF token, required on unsafe methods",
        },
    }
    assert op(doc, "/web/form")["security"] == [{}, {cookie: []}]
    post = op(doc, "/web/form", "post")
    assert post["security"] == [{cookie: [], "csrfToken": []}]
    assert post["responses"]["403"] == {"$ref": "#/components/responses/Forbidden"}
    assert "security" not in op(doc, "/api", "post")


def test_without_csrf_only_the_optional_cookie_is_described():
    app = Gobstopper()
    app.add_middleware(SecurityMiddleware(secret_key="k" * 32, enable_csrf=False))

    @app.post("/save")
    async def save(request: Request):
        return {}

    doc = document(app)
    assert list(doc["components"]["securitySchemes"]) == ["sessionCookie"]
    assert op(doc, "/save", "post")["security"] == [{}, {"sessionCookie": []}]
    assert "403" not in op(doc, "/save", "post")["responses"]


def test_mounted_apps_appear_under_their_prefix_and_hide_what_they_cover():
    app, api, shadowed = Gobstopper(), Gobstopper("api"), Gobstopper("shadowed")

    @app.get("/api/users")
    async def unreachable(request: Request):
        return {}

    @app.get("/home")
    async def home(request: Request):
        return {}

    @api.get("/")
    async def api_root(request: Request):
        return {}

    @api.get("/users/<int:user_id>")
    async def api_user(request: Request, user_id: int) -> User:
        return User(user_id, "a")

    @shadowed.get("/never")
    async def never(request: Request):
        return {}

    app.mount("/api", api)
    app.mount("/api", shadowed)
    doc = document(app)
    assert list(doc["paths"]) == ["/home", "/api", "/api/users/{user_id}"]
    assert op(doc, "/api/users/{user_id}")["operationId"] == "api_user"


def test_a_mounted_apps_own_document_names_its_prefix_as_server():
    app, api = Gobstopper(), Gobstopper("api")
    app.mount("/v1", api)
    assert document(api)["servers"] == [{"url": "/v1"}]
    assert "servers" not in document(app)


def test_the_first_registration_of_a_rule_and_method_wins_as_in_the_router():
    app = Gobstopper()

    @app.get("/x")
    async def first(request: Request) -> User:
        return User(1, "a")

    @app.route("/x", methods=["GET", "POST"])
    async def second(request: Request):
        return {}

    item = document(app)["paths"]["/x"]
    assert item["get"]["operationId"] == "first"
    assert item["post"]["operationId"] == "second"


def test_models_with_the_same_name_get_distinct_components():
    app = Gobstopper()

    @app.get("/a")
    async def a(request: Request) -> User:
        return User(1, "a")

    @app.get("/b")
    async def b(request: Request) -> other_models.User:
        return other_models.User("x")

    doc = document(app)
    refs = {
        op(doc, path)["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        for path in ("/a", "/b")
    }
    assert len(refs) == 2
    assert all(ref.split("/")[-1] in doc["components"]["schemas"] for ref in refs)


def test_a_type_msgspec_cannot_describe_is_a_clear_error():
    class Opaque:
        pass

    app = Gobstopper()

    @app.get("/x")
    @operation(responses={200: Opaque})
    async def x(request: Request):
        return {}

    with pytest.raises(TypeError, match=r"cannot describe .*Opaque"):
        openapi_document(app)


def test_the_document_is_cached_and_rebuilt_when_routes_change(monkeypatch: pytest.MonkeyPatch):
    app, sub = Gobstopper(), Gobstopper("sub")
    app.mount("/sub", sub)
    builds: list[int] = []
    build = builder.build_document
    monkeypatch.setattr(builder, "build_document", lambda a: builds.append(1) or build(a))
    first = openapi_document(app)
    assert openapi_document(app) is first
    assert len(builds) == 1

    @sub.get("/late")
    async def late(request: Request):
        return {}

    second = openapi_document(app)
    assert "/sub/late" in second["paths"]
    assert len(builds) == 2
    bp = Blueprint("bp", "/bp")
    app.register_blueprint(bp)

    @bp.get("/later")
    async def later(request: Request):
        return {}

    assert "/bp/later" in openapi_document(app)["paths"]
    assert len(builds) == 3


def test_date_and_datetime_query_values_use_string_formats():
    app = Gobstopper()

    @app.get("/since")
    async def since(request: Request, day: datetime.date | None = None):
        return {}

    parameter = op(document(app), "/since")["parameters"][0]
    assert parameter["schema"] == {"type": "string", "format": "date"}
