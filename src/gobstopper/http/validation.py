"""Body errors and model conversion shared by the JSON and form parsers.

Every class here is a ``BodyValidationError`` carrying ``errors``, a list of
``{"loc": [...], "msg": ...}`` dicts whose ``loc`` starts with ``"body"``
(FastAPI's convention), then the field path (``["body", "items", 0, "name"]``).
They also subclass the msgspec error a user would expect to catch, so code
written against either the framework or msgspec handles them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable
from typing import Any, cast

import msgspec
import msgspec.inspect as mi

from gobstopper.http.errors import BodyValidationError, RequestTooLarge, UnprocessableEntity

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`$")
_STEP = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]|\[(?P<other>[^\]]*)\]")
_SEQUENCE_TYPES = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType, mi.TupleType)


class BodyTooLarge(BodyValidationError, RequestTooLarge):
    """413: a body limit other than ``max_body_bytes`` was passed.

    Too many fields, files or parts, a file or field too large, or
    ``multipart(max_size=...)`` exceeded. Catchable as ``RequestTooLarge``
    and as ``BodyValidationError``.
    """

    status_code = 413
    description = "Request body too large"


class InvalidJSON(BodyValidationError, msgspec.DecodeError):
    """400: the body is not acceptable JSON (syntax, UTF-8, nesting depth).

    Also a ``msgspec.DecodeError``, as the reference documents for
    ``get_json()``.
    """


class JSONValidationError(InvalidJSON, msgspec.ValidationError):
    """400: valid JSON that does not match the model."""


class FormValidationError(BodyValidationError, msgspec.ValidationError):
    """400: form fields that do not convert to the model."""


class RequestValidationError(BodyValidationError, UnprocessableEntity):
    """422: a typed handler parameter's body did not decode or validate."""

    status_code = 422
    description = "Unprocessable Entity"


def error_entry(message: str) -> dict[str, Any]:
    """One ``{"loc", "msg"}`` entry from a msgspec error message."""
    loc: list[Any] = ["body"]
    at = _AT.search(message)
    if at is not None:
        message = message[: at.start()]
        for step in _STEP.finditer(at.group("path")):
            key, index, other = step.group("key", "index", "other")
            loc.append(int(index) if index is not None else key if key is not None else other)
    missing = _MISSING.match(message)
    if missing is not None:
        loc.append(missing.group("field"))
        message = "Field required"
    return {"loc": loc, "msg": message}


def errors_of(exc: BaseException) -> list[dict[str, Any]]:
    """The ``errors`` list for a msgspec error."""
    return [error_entry(str(exc))]


def body_required(model: type) -> RequestValidationError:
    """The error for an empty body where ``model`` is required."""
    return RequestValidationError(
        f"Request body required ({model.__name__})",
        [{"loc": ["body"], "msg": "Field required"}],
    )


@functools.lru_cache(maxsize=512)
def _sequence_fields(model: Hashable) -> frozenset[str]:
    """Names (as encoded) of ``model``'s list/set/tuple fields."""
    info = mi.type_info(model)
    names = set()
    for field in getattr(info, "fields", ()):
        kinds = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
        if any(isinstance(kind, _SEQUENCE_TYPES) for kind in kinds):
            names.add(field.encode_name)
    return frozenset(names)


def form_to_model(fields: dict[str, list[str]], model: type[Any]) -> Any:
    """Convert form fields to ``model``: the last value wins, lists keep all.

    Strings are converted to the field types (``"42"`` → ``42``); a failure
    raises ``FormValidationError`` naming the field.
    """
    multi = _sequence_fields(cast(Hashable, model))  # typeshed: type[Any] is not Hashable
    data = {
        name: values if name in multi else values[-1] for name, values in fields.items() if values
    }
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        raise FormValidationError(f"Invalid form data: {exc}", errors_of(exc)) from exc
