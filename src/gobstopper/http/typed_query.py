"""Query parameters declared as typed handler arguments.

``async def search(request, q: str = "", limit: int = 10)``: a keyword
argument that is not a path parameter nor the body, annotated with a
scalar (str, int, float, bool, UUID, date, datetime, time, Decimal, an Enum
or a Literal), optionally ``| None``, or a list/set/tuple of one (a
repeated parameter), is read from the query string. As for form bodies,
the last value of a repeated name wins except for sequences, and text
converts to the annotated type (``"10"`` → ``10``); an argument left out
keeps the handler's default. A value that does not convert is a 422 whose
errors point at ``["query", name]``.

``query_parameters`` is what the OpenAPI builder documents and what
``QueryLoader`` reads: one rule for both, decided once per route.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import msgspec

from gobstopper.http.injection import REQUIRED, body_parameter, type_hints
from gobstopper.http.validation import RequestValidationError, errors_of

_SCALARS = (
    str,
    int,
    float,
    bool,
    uuid.UUID,
    datetime.date,
    datetime.datetime,
    datetime.time,
    decimal.Decimal,
)
_SEQUENCES = (list, set, frozenset, tuple)
_NAMED_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class QueryParameter(NamedTuple):
    """One handler argument read from the query string."""

    name: str
    #: The annotation without ``| None`` (``int``, ``list[str]``).
    annotation: Any
    #: The handler's default, or ``REQUIRED``.
    default: Any
    #: A list/set/tuple: every value of a repeated name.
    repeated: bool


def _is_scalar(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Literal:
        return True
    return isinstance(annotation, type) and (
        issubclass(annotation, enum.Enum) or annotation in _SCALARS
    )


def _without_none(annotation: Any) -> Any:
    """``X`` for ``X | None``; ``annotation`` itself otherwise."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _query_kind(annotation: Any) -> bool | None:
    """``False`` for a scalar, ``True`` for a sequence of scalars, else ``None``."""
    if _is_scalar(annotation):
        return False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in _SEQUENCES and args:
        item = args[0]
        if typing.get_origin(annotation) is tuple and args[1:] != (Ellipsis,):
            return None  # a fixed-length tuple is not one repeated name
        return True if _is_scalar(item) else None
    return None


def query_parameters(
    handler: Callable[..., Any], path_params: Sequence[str] = ()
) -> tuple[QueryParameter, ...]:
    """The arguments of ``handler`` that come from the query string.

    Called once per route (signatures are not inspected per request).
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return ()
    target = handler if inspect.isroutine(handler) else type(handler).__call__
    hints = type_hints(inspect.unwrap(target))
    body = body_parameter(handler)
    skipped = {*path_params, *([body.name] if body is not None else [])}
    found: list[QueryParameter] = []
    for param in list(signature.parameters.values())[1:]:  # the first is the request
        if param.kind not in _NAMED_KINDS or param.name in skipped:
            continue
        annotation = _without_none(hints.get(param.name, param.annotation))
        repeated = _query_kind(annotation)
        if repeated is not None:
            found.append(QueryParameter(param.name, annotation, param.default, repeated))
    return tuple(found)


class QueryLoader:
    """Convert a request's query string into a route's query arguments."""

    __slots__ = ("_model", "_names", "_repeated", "_required")

    def __init__(self, params: Sequence[QueryParameter]) -> None:
        # Optional fields default to UNSET (msgspec does not check defaults), so
        # only the names the client sent are passed and the handler's defaults hold.
        fields = [
            (p.name, p.annotation)
            if p.default is REQUIRED
            else (p.name, p.annotation, msgspec.UNSET)
            for p in params
        ]
        self._model = msgspec.defstruct("Query", fields, kw_only=True)
        self._names = frozenset(p.name for p in params)
        self._repeated = frozenset(p.name for p in params if p.repeated)
        self._required = any(p.default is REQUIRED for p in params)

    def load(self, args: dict[str, list[str]]) -> dict[str, Any]:
        """Keyword arguments for the handler from ``request.args`` (422 if invalid)."""
        data = {
            name: values if name in self._repeated else values[-1]
            for name, values in args.items()
            if name in self._names and values
        }
        if not data and not self._required:
            return data  # PERF: nothing to convert; the handler's defaults apply
        try:
            value = msgspec.convert(data, self._model, strict=False)
        except msgspec.ValidationError as exc:
            errors = errors_of(exc)
            for error in errors:
                error["loc"][0] = "query"
            raise RequestValidationError("Invalid query parameters", errors) from exc
        return {name: getattr(value, name) for name in data}
