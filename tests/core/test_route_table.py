"""Compiling registrations: precedence, conflicts, names and url_for."""

from __future__ import annotations

import datetime
import logging
import uuid

import pytest

from gobstopper import Blueprint, Gobstopper, redirect
from gobstopper.core.route_table import build_route_table, iter_routes, join_paths
from gobstopper.testing import TestClient


@pytest.mark.parametrize(
    ("prefix", "rule", "expected"),
    [
        ("/api/", "/users", "/api/users"),
        ("/api", "/", "/api/"),
        ("", "/x", "/x"),
        ("/", "/x", "/x"),
    ],
)
def test_join_paths(prefix, rule, expected):
    assert join_paths(prefix, rule) == expected


def precedence_app() -> Gobstopper:
    app = Gobstopper("precedence")

    # Registered from least to most specific on purpose: order must not matter.
    @app.get("/items/<path:rest>")
    async def by_path(request, rest):
        return {"route": "path", "value": rest}

    @app.get("/items/<name>")
    async def by_name(request, name):
        return {"route": "str", "value": name}

    @app.get("/items/<int:item_id>")
    async def by_id(request, item_id):
        return {"route": "int", "value": item_id}

    @app.get("/items/<uuid:key>")
    async def by_uuid(request, key):
        return {"route": "uuid", "value": str(key)}

    @app.get("/items/<date:day>")
    async def by_date(request, day):
        return {"route": "date", "value": day.isoformat()}

    @app.get("/items/<float:price>")
    async def by_price(request, price):
        return {"route": "float", "value": price}

    @app.get("/items/new")
    async def new(request):
        return {"route": "static", "value": "new"}

    return app


@pytest.mark.parametrize(
    ("path", "route", "value"),
    [
        ("/items/new", "static", "new"),
        ("/items/42", "int", 42),
        ("/items/2.5", "float", 2.5),
        ("/items/2024-02-29", "date", "2024-02-29"),
        (
            "/items/12345678-1234-5678-1234-567812345678",
            "uuid",
            "12345678-1234-5678-1234-567812345678",
        ),
        ("/items/pen", "str", "pen"),
        ("/items/a/b", "path", "a/b"),
        ("/items/2023-02-30", "str", "2023-02-30"),
    ],
)
def test_precedence_static_then_typed_then_str_then_path(path, route, value):
    with TestClient(precedence_app()) as client:
        assert client.get(path).json() == {"route": route, "value": value}


def test_a_failed_conversion_is_400_when_nothing_else_matches():
    app = Gobstopper("convert")

    @app.get("/u/<int:user_id>")
    async def user(request, user_id):
        return {"id": user_id}

    @app.get("/d/<date:day>")
    async def day(request, day):
        return {"day": str(day)}

    @app.get("/k/<uuid:key>")
    async def key(request, key):
        return {"key": str(key)}

    with TestClient(app) as client:
        assert client.get("/u/abc").status_code == 400
        assert client.get("/d/2023-13-45").status_code == 400
        assert client.get("/k/not-a-uuid").status_code == 400
        assert client.get("/k/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").status_code == 400
        assert client.get("/u/1/extra").status_code == 404


def test_converted_values_have_python_types():
    app = Gobstopper("types")
    seen: dict[str, object] = {}

    @app.get("/blog/<date:pub_date>/posts/<uuid:post_id>")
    async def get_post(request, pub_date, post_id):
        seen.update(pub_date=pub_date, post_id=post_id)
        return {"date": pub_date, "id": post_id}

    key = uuid.uuid4()
    with TestClient(app) as client:
        body = client.get(f"/blog/2024-05-01/posts/{key}").json()
    assert seen == {"pub_date": datetime.date(2024, 5, 1), "post_id": key}
    assert body == {"date": "2024-05-01", "id": str(key)}


def test_conflicts_are_logged_and_the_first_registration_wins(caplog):
    app = Gobstopper("conflicts")
    app.get("/same", name="first")(lambda request: "first")
    app.get("/same", name="second")(lambda request: "second")
    app.get("/u/<int:a>", name="by_a")(lambda request, a: f"a={a}")
    app.get("/u/<int:b>", name="by_b")(lambda request, b: f"b={b}")
    with caplog.at_level(logging.WARNING, logger="gobstopper.routing"):
        with TestClient(app) as client:
            assert client.get("/same").text == "first"
            assert client.get("/u/1").text == "a=1"
    messages = [r.getMessage() for r in caplog.records]
    assert any("GET /same registered twice" in m for m in messages)
    assert any("/u/<int:b> matches the same paths as /u/<int:a>" in m for m in messages)


def test_different_methods_on_one_rule_are_not_a_conflict(caplog):
    app = Gobstopper("methods")
    app.get("/r")(lambda request: "get")
    app.post("/r")(lambda request: "post")
    with caplog.at_level(logging.WARNING, logger="gobstopper.routing"):
        table = build_route_table(app)
    assert not table.http.conflicts
    assert [r.name for r in iter_routes(table)] == ["<lambda>", "<lambda>"]


def test_duplicate_endpoint_names_are_logged(caplog):
    app = Gobstopper("names")
    app.get("/one", name="page")(lambda request: "1")
    app.get("/two", name="page")(lambda request: "2")
    with caplog.at_level(logging.WARNING, logger="gobstopper.routing"):
        assert app.url_for("page") == "/one"
    assert "endpoint name 'page'" in caplog.text


# -- url_for ---------------------------------------------------------------------------
def url_app() -> Gobstopper:
    app = Gobstopper("urls")

    @app.get("/users/<int:id>", name="user_detail")
    async def get_user(request, id):
        return {"user": id}

    @app.get("/posts/<int:year>/<int:month>")
    async def posts_archive(request, year, month):
        return {"posts": [year, month]}

    @app.get("/files/<path:name>")
    async def files(request, name):
        return name

    @app.get("/tags/<tag>")
    async def tag(request, tag):
        return tag

    @app.get("/at/<date:day>/<uuid:key>/<float:score>")
    async def typed(request, day, key, score):
        return "t"

    @app.get("/report-<int:year>.csv")
    async def report(request, year):
        return str(year)

    admin = Blueprint("admin", __name__)

    @admin.get("/login")
    async def login(request):
        return {"login": True}

    v1 = Blueprint("v1", url_prefix="/v1")
    v1.get("/users")(lambda request: "users")
    admin.register_blueprint(v1)
    app.register_blueprint(admin, url_prefix="/admin")
    return app


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("user_detail", {"id": 123}, "/users/123"),
        ("user_detail", {"id": "123"}, "/users/123"),
        ("posts_archive", {"year": 2024, "month": 12}, "/posts/2024/12"),
        ("admin.login", {}, "/admin/login"),
        ("admin.v1.<lambda>", {}, "/admin/v1/users"),
        ("files", {"name": "a b/c.txt"}, "/files/a%20b/c.txt"),
        ("tag", {"tag": "a/b?c"}, "/tags/a%2Fb%3Fc"),
        ("user_detail", {"id": 5, "tab": "posts", "q": ["a", "b"]}, "/users/5?tab=posts&q=a&q=b"),
        ("user_detail", {"id": 5, "skip": None}, "/users/5"),
        (
            "typed",
            {
                "day": datetime.date(2024, 1, 2),
                "key": uuid.UUID("12345678-1234-5678-1234-567812345678"),
                "score": 1e20,
            },
            "/at/2024-01-02/12345678-1234-5678-1234-567812345678/100000000000000000000.0",
        ),
        ("report", {"year": 2023}, "/report-2023.csv"),
    ],
)
def test_url_for_builds_paths(name, params, expected):
    assert url_app().url_for(name, **params) == expected


def test_url_for_results_route_back_to_the_same_handler():
    app = url_app()
    with TestClient(app) as client:
        assert client.get(app.url_for("files", name="a b/c.txt")).text == "a b/c.txt"
        assert client.get(app.url_for("tag", tag="a b?c#d")).text == "a b?c#d"
        # Granian decodes %2F before routing, so a '/' inside a str parameter
        # cannot come back (use <path:...> for values with slashes).
        assert client.get(app.url_for("tag", tag="a/b")).status_code == 404
        assert client.get(app.url_for("report", year=7)).text == "7"


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "no route named 'nope'"),
        ("user_detail", {}, "missing parameter 'id'"),
        ("user_detail", {"id": -1}, "non-negative"),
        ("user_detail", {"id": "abc"}, "non-negative"),
        ("typed", {"day": "yesterday", "key": uuid.uuid4(), "score": 1}, "Invalid isoformat"),
        ("typed", {"day": datetime.date.today(), "key": "bad", "score": 1}, "hexadecimal"),
        (
            "typed",
            {"day": datetime.date.today(), "key": uuid.uuid4(), "score": float("nan")},
            "finite",
        ),
    ],
)
def test_url_for_raises_value_error(name, params, message):
    with pytest.raises(ValueError, match=message):
        url_app().url_for(name, **params)


def test_url_for_in_a_handler_with_redirect():
    app = url_app()

    @app.post("/users")
    async def create_user(request):
        return redirect(app.url_for("user_detail", id=9), status=303)

    with TestClient(app) as client:
        response = client.post("/users")
    assert response.status_code == 303
    assert response.headers["location"] == "/users/9"
