"""Query parameters from typed handler arguments: which ones, and how they load."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Any, Literal

import msgspec
import pytest

from gobstopper.http.injection import REQUIRED
from gobstopper.http.typed_query import QueryLoader, QueryParameter, query_parameters
from gobstopper.http.validation import RequestValidationError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Filters(msgspec.Struct):
    name: str


async def handler(
    request: Any,
    shop: int,
    body: Filters,
    q: str = "",
    limit: int = 10,
    tag: list[str] | None = None,
    color: Color | None = None,
    mode: Literal["a", "b"] = "a",
    since: datetime.date | None = None,
    ids: tuple[uuid.UUID, ...] = (),
    untyped=None,
    pair: tuple[int, int] = (0, 0),
    nested: dict[str, int] | None = None,
    *args: Any,
    flag: bool = False,
    **kwargs: Any,
) -> None:
    """Every kind of argument a handler can have."""


def test_only_scalar_keyword_arguments_come_from_the_query():
    found = query_parameters(handler, ["shop"])
    assert [p.name for p in found] == ["q", "limit", "tag", "color", "mode", "since", "ids", "flag"]
    by_name = {p.name: p for p in found}
    assert by_name["tag"] == QueryParameter("tag", list[str], None, True)
    assert by_name["color"].annotation is Color
    assert by_name["limit"] == QueryParameter("limit", int, 10, False)


def test_callables_without_a_signature_have_no_query_parameters():
    assert query_parameters(print) == ()


def test_a_required_argument_is_a_required_parameter():
    async def need(request: Any, q: str) -> None:
        """A query argument without a default."""

    assert query_parameters(need) == (QueryParameter("q", str, REQUIRED, False),)


def loader() -> QueryLoader:
    return QueryLoader(query_parameters(handler, ["shop"]))


def test_values_convert_to_their_annotations_and_absent_ones_keep_defaults():
    args = {
        "limit": ["5"],
        "tag": ["a", "b"],
        "color": ["blue"],
        "since": ["2024-02-29"],
        "flag": ["true"],
        "q": ["first", "last"],
        "other": ["ignored"],
    }
    assert loader().load(args) == {
        "limit": 5,
        "tag": ["a", "b"],
        "color": Color.BLUE,
        "since": datetime.date(2024, 2, 29),
        "flag": True,
        "q": "last",
    }
    assert loader().load({}) == {}


@pytest.mark.parametrize(
    ("args", "loc"),
    [
        ({"limit": ["ten"]}, ["query", "limit"]),
        ({"mode": ["c"]}, ["query", "mode"]),
        ({"ids": ["x"]}, ["query", "ids", 0]),
    ],
)
def test_a_value_that_does_not_convert_is_a_422_pointing_at_it(
    args: dict[str, list[str]], loc: list[Any]
):
    with pytest.raises(RequestValidationError) as caught:
        loader().load(args)
    assert caught.value.status_code == 422
    assert caught.value.errors[0]["loc"] == loc


def test_a_missing_required_parameter_is_a_422():
    async def need(request: Any, q: str) -> None:
        """A query argument without a default."""

    with pytest.raises(RequestValidationError) as caught:
        QueryLoader(query_parameters(need)).load({})
    assert caught.value.errors == [{"loc": ["query", "q"], "msg": "Field required"}]
