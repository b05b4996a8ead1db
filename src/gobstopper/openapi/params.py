"""Path templates and path parameters from URL rules and their converters.

``/users/<int:user_id>`` becomes the template ``/users/{user_id}`` with an
``integer`` parameter whose bounds are the converter's own (no sign, at
most 19 digits), so a client generated from the document sends exactly
what the router accepts. A ``float`` parameter is a decimal string with
the converter's own pattern, since the converter refuses exponents.
"""

from __future__ import annotations

from typing import Any

from gobstopper.http.routing import (
    Converter,
    DateConverter,
    FloatConverter,
    IntConverter,
    PathConverter,
    Rule,
    StringConverter,
    UUIDConverter,
)

# JSON Schemas of the values each converter accepts (see http/routing.py).
_SCHEMAS: dict[type[Converter], dict[str, Any]] = {
    IntConverter: {"type": "integer", "minimum": 0, "maximum": 10**19 - 1},
    # NOTE: a decimal string, not a JSON number: the converter refuses exponents
    # ("1e-05", how clients print small floats), so "number" would promise too much.
    FloatConverter: {
        "type": "string",
        "format": "decimal",
        "pattern": r"^[0-9]{1,30}(\.[0-9]{1,30})?$",
    },
    UUIDConverter: {"type": "string", "format": "uuid"},
    DateConverter: {"type": "string", "format": "date"},
    # A path value spans segments but never starts with "/".
    PathConverter: {"type": "string", "pattern": "^[^/]"},
}
#: ``str`` (and any converter registered by a user): one non-empty segment.
_SEGMENT: dict[str, Any] = {"type": "string", "pattern": "^[^/]+$"}


def _params(rule: Rule) -> list[tuple[str, Converter]]:
    found: list[tuple[str, Converter]] = []
    for segment in rule.segments:
        params = [segment.param] if segment.param is not None else segment.pattern_params
        found += [(param.name, param.converter) for param in params]
    return found


def path_template(rule: Rule) -> str:
    """The OpenAPI path for ``rule``: each ``<conv:name>`` becomes ``{name}``."""
    parts: list[str] = []
    for segment in rule.segments:
        if segment.static is not None:
            parts.append(segment.static)
        elif segment.param is not None:
            parts.append("{" + segment.param.name + "}")
        else:
            parts.append(
                "".join(
                    piece if isinstance(piece, str) else "{" + piece.name + "}"
                    for piece in segment.pieces
                )
            )
    return "/" + "/".join(parts)


def path_parameters(rule: Rule) -> list[dict[str, Any]]:
    """Parameter Objects for the path parameters of ``rule``, in order."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(_SCHEMAS.get(type(converter), _SEGMENT)),
        }
        for name, converter in _params(rule)
    ]


def has_typed_params(rule: Rule) -> bool:
    """Can a converter refuse a segment that reached it (the router's 400)?

    ``str`` and ``path`` take any non-empty text; every other converter
    (a user's own included) may refuse one.
    """
    return any(
        not isinstance(converter, (StringConverter, PathConverter))
        for _, converter in _params(rule)
    )
