"""Response models: a handler annotated ``-> User`` answers a ``User``.

The return annotation is read once, at registration. When it names a model
(a ``msgspec.Struct``, dataclass, TypedDict or NamedTuple, alone or inside
``list[...]``, ``dict[str, ...]``, ``| None``...), the handler's return value
is converted to that type with msgspec before it is encoded: fields the
model does not declare are dropped (a dict, an ORM object or a richer Struct
may be returned), and a value of the wrong type is a ``ResponseValidationError``
— a 500 whose message names the bad field (``$.items[0].price``), shown with
``debug=True``. A response object (``-> User | Response``) passes unchanged,
and ``(user, 201)`` or ``(user, 201, headers)`` keeps its status and headers.
Other annotations (``dict``, ``str``, ``Response``) keep the usual coercion.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from gobstopper.http.injection import type_hints
from gobstopper.http.response import BaseResponse, plain_response_of

_JSON = "application/json"
_NO_ANNOTATION = inspect.Signature.empty


class ResponseValidationError(TypeError):
    """A handler returned a value that does not match its return annotation."""


def _is_model_class(annotation: Any) -> bool:
    if not isinstance(annotation, type):
        return False
    return (
        issubclass(annotation, msgspec.Struct)
        or dataclasses.is_dataclass(annotation)
        or typing.is_typeddict(annotation)
        or (issubclass(annotation, tuple) and hasattr(annotation, "_fields"))
    )


def _mentions_model(annotation: Any) -> bool:
    """Does ``annotation`` name a model class, at any depth?"""
    if _is_model_class(annotation):
        return True
    return any(_mentions_model(arg) for arg in typing.get_args(annotation))


def _is_response_class(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseResponse)


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _type_name(annotation: Any) -> str:
    """``User``, ``list[User]``: a type as its author wrote it, without module paths."""
    if isinstance(annotation, type):
        return annotation.__name__
    if annotation is Ellipsis:
        return "..."
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    origin = typing.get_origin(annotation)
    name = getattr(origin, "__name__", None) or repr(annotation)
    return f"{name}[{', '.join(_type_name(arg) for arg in args)}]" if args else name


def return_annotation(handler: Callable[..., Any]) -> Any:
    """``handler``'s resolved return annotation, or ``inspect.Signature.empty``."""
    target = handler if inspect.isroutine(handler) else type(handler).__call__
    return type_hints(inspect.unwrap(target)).get("return", _NO_ANNOTATION)


def declares_response(function: Callable[..., Any]) -> bool:
    """Is ``function`` annotated to return one response class (``-> Response``)?

    The pipeline takes it at its word and skips the coercion step around it.
    A union (``-> Response | dict``), a string it cannot resolve, or a
    decorated function (``__wrapped__``: the decorator may return something
    else) is not trusted.
    """
    if hasattr(function, "__wrapped__"):
        return False
    return _is_response_class(return_annotation(function))


def response_model(handler: Callable[..., Any]) -> Any | None:
    """The model ``handler`` promises to return, or ``None`` if it names none.

    Response classes are taken out of a union: ``-> User | Response`` is ``User``.
    """
    annotation = return_annotation(handler)
    if annotation is _NO_ANNOTATION:
        return None
    members = [m for m in _union_members(annotation) if not _is_response_class(m)]
    if not members or not any(_mentions_model(m) for m in members):
        return None
    return members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007


def response_encoder(handler: Callable[..., Any]) -> Callable[[Any], Any] | None:
    """A function turning ``handler``'s return value into a JSON response of its model.

    It returns a response, or a ``(response, status[, headers])`` tuple when
    the handler returned one: ``to_response`` finishes either.

    ``None`` when the handler's annotation names no model (nothing changes).
    Built once per route; raises ``ResponseValidationError`` per bad value.
    """
    model = response_model(handler)
    if model is None:
        return None
    # PERF: built once per route; msgspec encoders and typed decoders are costly to build.
    encoder = msgspec.json.Encoder()
    check = msgspec.json.Decoder(model)
    name = getattr(handler, "__qualname__", None) or type(handler).__name__
    expected = _type_name(model)

    def encode_body(value: Any) -> BaseResponse:
        if isinstance(value, BaseResponse):
            return value
        try:
            converted = msgspec.convert(value, model, from_attributes=True)
            body = encoder.encode(converted)
            # NOTE: convert() passes an instance of the model itself through unchecked
            # (Structs do not validate on construction); decoding what is sent checks it.
            check.decode(body)
        except (msgspec.ValidationError, TypeError) as exc:
            raise ResponseValidationError(
                f"{name} returned a value that does not match {expected}: {exc}"
            ) from exc
        return plain_response_of(body, _JSON)

    if typing.get_origin(model) is tuple or (isinstance(model, type) and issubclass(model, tuple)):
        return encode_body  # a tuple is the model here, not (body, status)

    def encode(value: Any) -> Any:
        if type(value) is tuple and 2 <= len(value) <= 3:
            return (encode_body(value[0]), *value[1:])
        return encode_body(value)

    return encode
