"""Typed body parameters: ``async def create(request, user: User)``.

A handler parameter annotated with a ``msgspec.Struct`` (or ``Struct | None``)
receives the request body decoded into it: JSON for ``application/json`` and
``application/*+json``, form fields for urlencoded and multipart bodies.
Signatures are inspected once, by ``body_parameter`` at registration; a body
that does not decode or validate answers 422 with the errors as a list of
``{"loc": [...], "msg": ...}``.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from gobstopper.http import body as _body
from gobstopper.http.errors import BodyValidationError, RequestTooLarge, UnsupportedMediaType
from gobstopper.http.json_body import decode_json
from gobstopper.http.validation import RequestValidationError, body_required, form_to_model

REQUIRED: Any = inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class BodyParameter:
    """The handler parameter that receives the body, and its model."""

    name: str
    model: type[msgspec.Struct]
    default: Any = REQUIRED


def _struct_of(annotation: Any) -> tuple[type[msgspec.Struct] | None, bool]:
    """``(model, optional)`` for ``Struct`` or ``Struct | None`` annotations."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation, False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) == 1:
            model, _ = _struct_of(members[0])
            return model, optional
    return None, False


def type_hints(func: Any) -> dict[str, Any]:
    """Resolved annotations; unresolvable ones stay as written."""
    try:
        return typing.get_type_hints(func)
    except Exception:
        raw = dict(getattr(func, "__annotations__", {}) or {})
        namespace = dict(
            getattr(func, "__globals__", None)
            or vars(sys.modules.get(getattr(func, "__module__", ""), sys))
        )
        for name, value in raw.items():
            if isinstance(value, str):
                try:
                    raw[name] = eval(value, namespace)  # same as get_type_hints, per name
                except Exception:
                    continue
        return raw


def body_parameter(handler: Any) -> BodyParameter | None:
    """The Struct-annotated parameter of ``handler``, if any.

    Called once per route, at registration, never per request. Raises
    ``TypeError`` if there is more than one: combine them into one Struct.
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return None
    target = handler if inspect.isroutine(handler) else type(handler).__call__
    hints = type_hints(inspect.unwrap(target))
    found: list[BodyParameter] = []
    for param in list(signature.parameters.values())[1:]:  # the first is the request
        model, optional = _struct_of(hints.get(param.name, param.annotation))
        if model is None:
            continue
        default = param.default
        if default is REQUIRED and optional:
            default = None
        found.append(BodyParameter(param.name, model, default))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise TypeError(
            f"{getattr(handler, '__qualname__', handler)!r} has several body "
            f"parameters ({names}); combine them into one msgspec.Struct"
        )
    return found[0] if found else None


async def load_body(request: Any, param: BodyParameter) -> Any:
    """Decode the request body into ``param.model`` (422 if invalid).

    An empty body gives the parameter's default (``None`` for an optional
    one) or a 422 "Field required"; another content type is a 415; size
    limits stay 413 and malformed multipart framing stays 400.
    """
    kind = _body.media_type(request.headers)
    if kind == _body.MULTIPART_FORM:
        fields = await request.get_form()
        if not request.body_size:
            return _missing(param)
        with _unprocessable():
            return form_to_model(fields, param.model)
    body = await request.get_data()
    if not body:
        return _missing(param)
    if _body.is_json_media_type(kind):
        with _unprocessable():
            return decode_json(body, param.model, request.json_depth_limit)
    if kind == _body.FORM_URLENCODED:
        with _unprocessable():
            return form_to_model(await request.get_form(), param.model)
    raise UnsupportedMediaType(
        "Content-Type must be application/json, application/x-www-form-urlencoded "
        "or multipart/form-data"
    )


def _missing(param: BodyParameter) -> Any:
    if param.default is REQUIRED:
        raise body_required(param.model)
    return param.default


@contextmanager
def _unprocessable() -> Iterator[None]:
    """Re-raise body errors as 422, except size limits (413)."""
    try:
        yield
    except RequestTooLarge:
        raise
    except BodyValidationError as exc:
        raise RequestValidationError(exc.description, exc.errors) from exc
