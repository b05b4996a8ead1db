"""@operation(...): metadata recorded on the handler, checked when written."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from gobstopper.openapi.metadata import DEFAULT, Operation, operation, operation_of


def test_the_decorator_records_metadata_and_returns_the_handler():
    async def handler(request: Any) -> None:
        """A handler."""

    decorated = operation(
        tags=("a",),
        responses={404: "Missing", "4XX": "Client error"},
        deprecated=True,
        files=["f"],
        operation_id="h",
    )(handler)
    assert decorated is handler
    assert operation_of(handler) == Operation(
        tags=("a",),
        responses=((404, "Missing"), ("4XX", "Client error")),
        deprecated=True,
        files=("f",),
        operation_id="h",
    )


def test_a_wrapped_handler_keeps_its_metadata_and_an_undecorated_one_has_none():
    @operation(summary="s")
    async def handler(request: Any) -> None:
        """A handler."""

    @functools.wraps(handler)
    async def wrapper(request: Any) -> None:
        await handler(request)

    assert operation_of(wrapper).summary == "s"
    assert operation_of(print) is DEFAULT


@pytest.mark.parametrize("key", [99, 600, "404", "6XX", "other", True, 2.5])
def test_response_keys_must_be_statuses(key: Any):
    with pytest.raises(ValueError, match="responses keys"):
        operation(responses={key: "x"})
