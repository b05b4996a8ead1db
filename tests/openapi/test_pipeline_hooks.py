"""What the document promises of the pipeline: query arguments and response models."""

from __future__ import annotations

import msgspec

from gobstopper import Gobstopper, Request
from gobstopper.testing import TestClient


class User(msgspec.Struct):
    id: int
    name: str


def test_typed_query_arguments_reach_the_handler():
    app = Gobstopper()

    @app.get("/search")
    async def search(request: Request, limit: int = 10):
        return {"limit": limit}

    with TestClient(app) as client:
        assert client.get("/search?limit=5").json() == {"limit": 5}
        assert client.get("/search").json() == {"limit": 10}
        assert client.get("/search?limit=x").status_code == 422


def test_a_return_annotation_shapes_the_response():
    app = Gobstopper()

    @app.get("/user")
    async def user(request: Request) -> User:
        return {"id": 1, "name": "ann", "password": "secret"}  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.get("/user").json() == {"id": 1, "name": "ann"}
