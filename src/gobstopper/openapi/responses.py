"""Response Objects: success from annotations, errors the framework produces.

Errors the framework itself answers are shared Response Objects under
``components/responses``, with the shape ``core/error_handling.py`` sends:
``{"error", "status"}``, plus ``errors`` (a list of ``{"loc", "msg"}``) for
validation failures and ``exception`` with ``debug=True``. Clients whose
``Accept`` prefers HTML get the themed error page instead, so both media
types are described.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec

from gobstopper.openapi.metadata import ResponseKey, ResponseSpec
from gobstopper.openapi.schemas import SchemaSet


class ValidationIssue(msgspec.Struct):
    """One problem with a request: where it is (``["body", "items", 0]``) and what."""

    loc: list[str | int]
    msg: str


class ErrorResponse(msgspec.Struct, omit_defaults=True):
    """The JSON body of every error the framework answers."""

    error: str
    status: int
    errors: list[ValidationIssue] | msgspec.UnsetType = msgspec.UNSET
    exception: str | msgspec.UnsetType = msgspec.UNSET


#: The framework's errors by status: (component name, description).
FRAMEWORK_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "Malformed request: a path parameter its converter refuses, "
        "a malformed multipart body or Content-Length",
    ),
    403: ("Forbidden", "CSRF token missing or invalid"),
    404: ("NotFound", "Nothing is routed at this path"),
    405: ("MethodNotAllowed", "The path is routed for other methods (listed in Allow)"),
    413: ("RequestTooLarge", "The body is larger than the route's limit"),
    415: ("UnsupportedMediaType", "The body's Content-Type is not one the route reads"),
    422: ("UnprocessableEntity", "The request did not validate; errors lists each problem"),
}


def reason(status: ResponseKey) -> str:
    """The reason phrase for ``status`` (``"Response"`` for ranges and default)."""
    if isinstance(status, int):
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return "Response"
    return "Response"


def error_content(schemas: SchemaSet) -> dict[str, Any]:
    """The media types of an error answer: JSON for APIs, the HTML page otherwise."""
    return {
        "application/json": {"schema": schemas.schema(ErrorResponse)},
        "text/html": {"schema": {"type": "string"}},
    }


def framework_responses(schemas: SchemaSet) -> dict[str, Any]:
    """``components/responses``: one Response Object per framework error."""
    found: dict[str, Any] = {}
    for status, (name, description) in FRAMEWORK_ERRORS.items():
        response: dict[str, Any] = {"description": description, "content": error_content(schemas)}
        if status == 405:
            response["headers"] = {
                "Allow": {
                    "description": "The methods routed at this path",
                    "schema": {"type": "string"},
                }
            }
        found[name] = response
    return found


def error_ref(status: int) -> dict[str, str]:
    """A reference to the shared Response Object for a framework error."""
    return {"$ref": f"#/components/responses/{FRAMEWORK_ERRORS[status][0]}"}


def json_response(description: str, schemas: SchemaSet, annotation: Any) -> dict[str, Any]:
    """A Response Object whose JSON body has the type ``annotation``."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schemas.schema(annotation)}},
    }


def explicit_response(
    status: ResponseKey, spec: ResponseSpec, schemas: SchemaSet
) -> dict[str, Any]:
    """A Response Object from one ``responses=`` entry.

    A type is a JSON body of that type; a str describes the response (an
    error status keeps the framework's error body, since ``abort()`` sends
    it); a dict is a Response Object used as written.
    """
    if isinstance(spec, dict):
        return dict(spec)
    if isinstance(spec, str):
        response: dict[str, Any] = {"description": spec}
        if _is_error(status):
            response["content"] = error_content(schemas)
        return response
    return json_response(reason(status), schemas, spec)


def _is_error(status: ResponseKey) -> bool:
    if isinstance(status, int):
        return status >= 400
    return status[0] in "45"
