"""``openapi_document(app)``: the OpenAPI 3.1 document of an app, built once.

The document is built from the app's registrations the first time it is
asked for and kept until the routes change: the key is the app's compiled
route table (and its mounted apps'), which the app rebuilds after every
registration. Nothing here runs per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple
from weakref import WeakKeyDictionary

import msgspec

from gobstopper.http.routing import Rule
from gobstopper.openapi.metadata import operation_of
from gobstopper.openapi.operations import OperationBuilder
from gobstopper.openapi.params import path_template
from gobstopper.openapi.responses import framework_responses
from gobstopper.openapi.routes import MAX_MOUNT_DEPTH, iter_routes
from gobstopper.openapi.schemas import SchemaSet
from gobstopper.openapi.security import schemes

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper

OPENAPI_VERSION = "3.1.0"


class Info(NamedTuple):
    """The document's ``info``: ``title`` defaults to the app's name."""

    title: str | None = None
    version: str = "0.1.0"
    description: str | None = None


class _Built(NamedTuple):
    key: tuple[object, ...]
    document: dict[str, Any]
    encoded: bytes


_info: WeakKeyDictionary[Gobstopper, Info] = WeakKeyDictionary()
_built: WeakKeyDictionary[Gobstopper, _Built] = WeakKeyDictionary()


def set_info(app: Gobstopper, info: Info) -> None:
    """Use ``info`` for ``app``'s document from now on."""
    _info[app] = info


def openapi_document(app: Gobstopper) -> dict[str, Any]:
    """The app's OpenAPI 3.1 document as a dict (cached; treat it as read-only).

    Rebuilt after routes, blueprints or mounts change. Raises ``TypeError``
    when a route names a type msgspec cannot describe.
    """
    return _current(app).document


def openapi_json(app: Gobstopper) -> bytes:
    """``openapi_document(app)`` encoded as JSON (cached with it)."""
    return _current(app).encoded


def _current(app: Gobstopper) -> _Built:
    key = _key(app)
    built = _built.get(app)
    if (
        built is None
        or len(built.key) != len(key)
        or any(old is not new for old, new in zip(built.key, key, strict=True))
    ):
        document = build_document(app)
        built = _Built(key, document, msgspec.json.encode(document))
        _built[app] = built
    return built


def _key(app: Gobstopper) -> tuple[object, ...]:
    """What the document depends on: the info, and each app's route table."""
    return (_info.get(app), *_tables(app, 0))


def _tables(app: Gobstopper, depth: int) -> list[object]:
    """The route tables of ``app`` and of its mounted apps, depth first."""
    tables: list[object] = [app.route_table]
    if depth < MAX_MOUNT_DEPTH:
        for _, sub_app in app._mounts:
            tables += _tables(sub_app, depth + 1)
    return tables


def build_document(app: Gobstopper) -> dict[str, Any]:
    """Build the document from scratch (``openapi_document`` caches it)."""
    info = _info.get(app) or Info()
    schemas = SchemaSet()
    operations = OperationBuilder(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for route in iter_routes(app):
        rule = Rule.compile(route.rule)
        item = paths.setdefault(path_template(rule), {})
        if operation_of(route.handler).include_in_schema:
            for method in route.methods:
                item[method.lower()] = operations.build(route, rule, method)
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": _info_object(app, info)}
    prefix = app._link_prefix()
    if prefix:
        document["servers"] = [{"url": prefix}]
    document["paths"] = {path: item for path, item in paths.items() if item}
    responses = framework_responses(schemas)
    components: dict[str, Any] = {"schemas": schemas.resolve(), "responses": responses}
    security_schemes: dict[str, Any] = {}
    for security in operations.security:
        security_schemes.update(schemes(security))
    if security_schemes:
        components["securitySchemes"] = security_schemes
    document["components"] = components
    if operations.tags:
        document["tags"] = [{"name": tag} for tag in operations.tags]
    return document


def _info_object(app: Gobstopper, info: Info) -> dict[str, Any]:
    found: dict[str, Any] = {"title": info.title or app.name, "version": info.version}
    if info.description:
        found["description"] = info.description
    return found
