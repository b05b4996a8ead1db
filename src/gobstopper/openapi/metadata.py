"""Per-route OpenAPI metadata: what the code cannot say by itself.

Signatures, converters and return annotations describe most of an
operation; ``@operation(...)`` adds the rest (explicit responses, tags,
deprecation, multipart file fields) by recording an ``Operation`` on the
handler. Nothing here runs per request: the builder reads it once, when the
document is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: A response as ``responses=`` takes it: a type (a JSON body of that type, ``list[User]``
#: included, hence ``Any``), a str (the description) or a dict (a Response Object as written).
ResponseSpec = Any
ResponseKey = int | str

#: The handler attribute ``operation`` sets and the builder reads.
ATTRIBUTE = "__gobstopper_operation__"
_STATUS_RANGE = re.compile(r"^[1-5]XX$")


class Operation(NamedTuple):
    """OpenAPI facts about one handler that its signature does not carry."""

    summary: str | None = None
    description: str | None = None
    tags: tuple[str, ...] | None = None
    responses: tuple[tuple[ResponseKey, ResponseSpec], ...] = ()
    deprecated: bool = False
    include_in_schema: bool = True
    files: tuple[str, ...] = ()
    operation_id: str | None = None


DEFAULT = Operation()


def _checked_responses(
    responses: Mapping[ResponseKey, ResponseSpec] | None,
) -> tuple[tuple[ResponseKey, ResponseSpec], ...]:
    """``responses`` as pairs, each key a status 100-599, ``"4XX"`` or ``"default"``."""
    pairs: list[tuple[ResponseKey, ResponseSpec]] = []
    for key, spec in (responses or {}).items():
        valid = (
            key == "default"
            or (isinstance(key, str) and _STATUS_RANGE.match(key))
            or (type(key) is int and 100 <= key <= 599)
        )
        if not valid:
            raise ValueError(
                f"responses keys are statuses 100-599, '4XX' or 'default', got {key!r}"
            )
        pairs.append((key, spec))
    return tuple(pairs)


def operation(
    *,
    summary: str | None = None,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    responses: Mapping[ResponseKey, ResponseSpec] | None = None,
    deprecated: bool = False,
    include_in_schema: bool = True,
    files: Iterable[str] = (),
    operation_id: str | None = None,
) -> Callable[[F], F]:
    """Record OpenAPI metadata on the decorated handler; returns it unchanged.

    ``summary``/``description`` override the docstring's first line and
    rest; ``tags`` override the blueprint's name; ``responses`` maps a status
    to a type (a JSON body of that type), a description, or a Response
    Object dict; ``files`` names the multipart file fields the handler reads
    with ``request.get_files()``; ``include_in_schema=False`` leaves the
    route out of the document. Order with ``@app.get`` does not matter.
    """
    recorded = describe(
        summary=summary,
        description=description,
        tags=tags,
        responses=responses,
        deprecated=deprecated,
        include_in_schema=include_in_schema,
        files=files,
        operation_id=operation_id,
    )

    def decorator(handler: F) -> F:
        setattr(handler, ATTRIBUTE, recorded)
        return handler

    return decorator


def describe(
    *,
    summary: str | None = None,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    responses: Mapping[ResponseKey, ResponseSpec] | None = None,
    deprecated: bool = False,
    include_in_schema: bool = True,
    files: Iterable[str] = (),
    operation_id: str | None = None,
) -> Operation:
    """An ``Operation`` from ``operation()``'s arguments, checked; the route
    decorators' OpenAPI keywords (``@app.get(..., responses=...)``) come here."""
    return Operation(
        summary,
        description,
        None if tags is None else tuple(tags),
        _checked_responses(responses),
        deprecated,
        include_in_schema,
        tuple(files),
        operation_id,
    )


def operation_of(handler: Callable[..., Any]) -> Operation:
    """The ``Operation`` recorded on ``handler`` (or on what it wraps)."""
    found = getattr(handler, ATTRIBUTE, None)
    if found is None:
        wrapped = getattr(handler, "__wrapped__", None)
        found = getattr(wrapped, ATTRIBUTE, None) if wrapped is not None else None
    return found if isinstance(found, Operation) else DEFAULT
