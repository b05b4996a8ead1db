"""Handler signature mistakes fail at registration, not as a 500 per request."""

from __future__ import annotations

import functools
import logging

import msgspec
import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.testing import TestClient


class Item(msgspec.Struct):
    name: str


def test_a_required_parameter_no_path_parameter_fills_is_rejected_at_registration():
    app = Gobstopper(__name__)

    with pytest.raises(TypeError) as caught:

        @app.get("/users/<int:user_id>")
        async def show_user(request, id):
            return {"id": id}

    message = str(caught.value)
    assert "'/users/<int:user_id>'" in message and "show_user(request, id)" in message
    assert "'id'" in message and "'user_id'" in message  # what to rename, and to what
    assert "name its parameters after the path parameters" in message
    assert app.route_table.rules_by_name == {}  # nothing was registered


def test_a_handler_without_a_request_parameter_is_rejected():
    app = Gobstopper(__name__)
    with pytest.raises(TypeError, match=r"'/'.*index\(\).*request"):
        app.get("/")(index)
    with pytest.raises(TypeError, match="first parameter 'user_id' receives the request"):

        @app.get("/users/<int:user_id>")
        def show(user_id):
            return {"id": user_id}

    with pytest.raises(TypeError, match=r"keyword_only\(\*, request\) has no parameter for the"):

        @app.get("/k")
        def keyword_only(*, request):
            return "k"


def index():  # forgot the request parameter
    return "hi"


def test_a_positional_only_parameter_after_the_request_is_rejected():
    app = Gobstopper(__name__)
    with pytest.raises(TypeError, match="'user_id'"):

        @app.get("/users/<int:user_id>")
        def show(request, user_id, /):
            return {"id": user_id}


def test_websocket_handlers_must_take_every_path_parameter():
    app = Gobstopper(__name__)
    with pytest.raises(TypeError, match=r"'/ws/<room>'.*no parameter for path parameter 'room'"):

        @app.websocket("/ws/<room>")
        async def chat(websocket):
            await websocket.accept()

    with pytest.raises(TypeError, match="websocket"):
        app.websocket("/ws")(index)


def test_blueprint_routes_are_checked_with_their_prefix_when_the_app_compiles():
    app = Gobstopper(__name__)
    org = Blueprint("org", url_prefix="/org/<int:org_id>")

    @org.get("/items/<int:item_id>")  # org_id comes from the prefix: not an error here
    async def item(request, org_id, item_id):
        return {"org": org_id, "item": item_id}

    @org.get("/broken")
    async def broken(request, team_id):
        return {}

    app.register_blueprint(org)
    with pytest.raises(TypeError, match=r"'/org/<int:org_id>/broken'.*'team_id'"):
        app.route_table  # noqa: B018 - compiling is what is tested


def test_blueprint_registration_still_catches_what_the_rule_alone_shows():
    bp = Blueprint("bp")
    with pytest.raises(TypeError, match="request"):
        bp.get("/x")(index)


def test_documented_and_valid_signatures_keep_working():
    app = Gobstopper(__name__)

    @app.get("/users/<int:id>", name="user_detail")  # the reference: read request.view_args
    async def get_user(request):
        return {"id": request.view_args["id"]}

    @app.get("/a/<int:x>/<slug>")  # declare only the parameters used
    def only_x(request, x, page=1):
        return {"x": x, "page": page}

    @app.get("/any/<int:x>/<y>")
    async def catch_all(request, *args, **params):
        return {"params": sorted(params), "args": len(args)}

    @app.post("/items/<int:shelf>")  # a msgspec body parameter is filled by the body
    async def create(request, shelf: int, item: Item):
        return {"shelf": shelf, "name": item.name}

    # A partial of an async function is async (awaited, not run in a thread).
    app.get("/scaled/<int:n>", name="scaled")(functools.partial(_scaled, factor=3))

    @app.websocket("/ws/<room>")
    async def room(websocket, room):
        await websocket.accept()
        await websocket.send_text(room)

    with TestClient(app) as client:
        assert client.get("/users/7").json() == {"id": 7}
        assert client.get("/a/1/two").json() == {"x": 1, "page": 1}
        assert client.get("/any/1/z").json() == {"params": ["x", "y"], "args": 0}
        assert client.post("/items/3", json={"name": "pen"}).json() == {"shelf": 3, "name": "pen"}
        assert client.get("/scaled/2").json() == {"n": 6}
        with client.websocket_connect("/ws/lobby") as ws:
            assert ws.receive_text() == "lobby"


async def _scaled(request, n, factor):
    return {"n": n * factor}


def test_a_sync_handler_returning_a_coroutine_is_a_500_that_says_await(caplog):
    app = Gobstopper(__name__)

    async def load():
        return {"loaded": True}

    @app.get("/pages/<int:n>")  # n is left in view_args: the handler gets wrapped
    def page(request):
        return load()  # forgot async def / await

    @app.post("/body")
    def with_body(request, item: Item):
        return load()

    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        assert client.get("/pages/1").status == 500
        assert client.post("/body", json={"name": "x"}).status == 500
    assert caplog.text.count("did you forget await?") == 2
    assert "<locals>.page is a plain def" in caplog.text
    assert "<locals>.with_body is a plain def" in caplog.text
