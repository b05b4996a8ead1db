"""One Operation Object per route and method, from what the route declares.

Each fact comes from the rule the router matches, the signature the pipeline
injects from (``http/injection.py``: the Struct-annotated argument is the
body; ``query.py``: scalar keyword arguments are the query) and the return
annotation ``response_models.py`` encodes with, so the document describes
what the server does. ``@operation(...)`` adds what code cannot say.
"""

from __future__ import annotations

import inspect
from typing import Any

import msgspec
import msgspec.inspect as mi

from gobstopper.http.injection import REQUIRED, BodyParameter, body_parameter
from gobstopper.http.response_models import response_model, return_annotation
from gobstopper.http.routing import Rule
from gobstopper.http.typed_query import QueryParameter, query_parameters
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.openapi.metadata import Operation, operation_of
from gobstopper.openapi.params import has_typed_params, path_parameters
from gobstopper.openapi.responses import error_ref, explicit_response, json_response
from gobstopper.openapi.routes import RouteInfo
from gobstopper.openapi.schemas import SchemaSet
from gobstopper.openapi.security import RouteSecurity, middleware_of, route_security

#: A multipart file part, as OpenAPI 3.1 (and Swagger UI's file picker) know it.
FILE_SCHEMA = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
#: Multipart field names the parser accepts (http/multipart.py refuses control characters).
PART_NAMES = {"pattern": "^[^\\x00-\\x1f\\x7f]*$"}
_FORM_SCALARS = (
    mi.StrType,
    mi.IntType,
    mi.FloatType,
    mi.BoolType,
    mi.UUIDType,
    mi.DateType,
    mi.DateTimeType,
    mi.TimeType,
    mi.DecimalType,
    mi.EnumType,
    mi.LiteralType,
    mi.NoneType,
)
_FORM_SEQUENCES = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)


def _form_field(kind: mi.Type) -> bool:
    """Can a form field (text, possibly repeated) carry a value of ``kind``?"""
    if isinstance(kind, mi.UnionType):
        return all(_form_field(member) for member in kind.types)
    if isinstance(kind, _FORM_SEQUENCES):
        return isinstance(kind.item_type, _FORM_SCALARS)
    return isinstance(kind, _FORM_SCALARS)


def is_flat(model: type[msgspec.Struct]) -> bool:
    """Does every field of ``model`` fit in a form (no nested objects)?"""
    info = mi.type_info(model)
    return all(_form_field(field.type) for field in getattr(info, "fields", ()))


def _docstring(handler: Any) -> tuple[str | None, str | None]:
    """(summary, description): the docstring's first line and the rest."""
    doc = inspect.getdoc(handler) if inspect.isroutine(handler) else None
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n")
    return first.strip() or None, rest.strip() or None


def _is_success(key: int | str) -> bool:
    return (isinstance(key, int) and 200 <= key <= 299) or key == "2XX"


class OperationBuilder:
    """Builds Operation Objects, collecting schemas, tags and security schemes."""

    def __init__(self, schemas: SchemaSet) -> None:
        self.schemas = schemas
        self.tags: list[str] = []
        self.security: list[SecurityMiddleware] = []
        self._ids: set[str] = set()

    def build(self, route: RouteInfo, rule: Rule, method: str) -> dict[str, Any]:
        """The Operation Object for ``method`` on ``route``."""
        meta = route.doc or operation_of(route.handler)
        handler = route.handler
        body = body_parameter(handler)
        query = query_parameters(handler, rule.param_names)
        operation: dict[str, Any] = {}
        tags = (
            meta.tags if meta.tags is not None else ((route.blueprint,) if route.blueprint else ())
        )
        if tags:
            operation["tags"] = list(tags)
            self.tags += [tag for tag in tags if tag not in self.tags]
        summary, description = _docstring(handler)
        summary, description = meta.summary or summary, meta.description or description
        if summary:
            operation["summary"] = summary
        if description:
            operation["description"] = description
        operation["operationId"] = self._unique_id(meta, route, method)
        parameters = path_parameters(rule) + [self._query(param) for param in query]
        if parameters:
            operation["parameters"] = parameters
        if body is not None or meta.files:
            operation["requestBody"] = self._request_body(body, meta.files)
        guard = self._security(route, method)
        operation["responses"] = self._responses(route, rule, meta, body, query, guard)
        if guard is not None:
            operation["security"] = guard.requirements
        if meta.deprecated:
            operation["deprecated"] = True
        return operation

    def _unique_id(self, meta: Operation, route: RouteInfo, method: str) -> str:
        base = meta.operation_id or route.name
        if len(route.methods) > 1:
            base = f"{base}_{method.lower()}"
        candidate, number = base, 2
        while candidate in self._ids:
            candidate, number = f"{base}_{number}", number + 1
        self._ids.add(candidate)
        return candidate

    def _query(self, param: QueryParameter) -> dict[str, Any]:
        schema = self.schemas.schema(param.annotation)
        if param.default is not REQUIRED and param.default is not None:
            try:
                schema["default"] = msgspec.to_builtins(param.default)
            except TypeError:
                pass  # a default msgspec cannot encode is left undocumented
        return {
            "name": param.name,
            "in": "query",
            "required": param.default is REQUIRED,
            "schema": schema,
        }

    def _request_body(self, body: BodyParameter | None, files: tuple[str, ...]) -> dict[str, Any]:
        file_parts = {"type": "object", "properties": {name: dict(FILE_SCHEMA) for name in files}}
        content: dict[str, Any] = {}
        if body is None:
            content["multipart/form-data"] = {
                "schema": {**file_parts, "propertyNames": dict(PART_NAMES)}
            }
        else:
            schema = self.schemas.schema(body.model)
            content["application/json"] = {"schema": schema}
            if is_flat(body.model):
                content["application/x-www-form-urlencoded"] = {"schema": schema}
                parts = [schema, file_parts] if files else [schema]
                content["multipart/form-data"] = {
                    "schema": {"allOf": parts, "propertyNames": dict(PART_NAMES)}
                }
        return {"required": body is not None and body.default is REQUIRED, "content": content}

    def _security(self, route: RouteInfo, method: str) -> RouteSecurity | None:
        security = middleware_of(route.chain)
        if security is None:
            return None
        if all(security is not known for known in self.security):
            self.security.append(security)
        return route_security(security, method)

    def _responses(
        self,
        route: RouteInfo,
        rule: Rule,
        meta: Operation,
        body: BodyParameter | None,
        query: tuple[QueryParameter, ...],
        guard: RouteSecurity | None,
    ) -> dict[str, Any]:
        model = response_model(route.handler)
        responses: dict[str, Any] = {}
        if not any(_is_success(key) for key, _ in meta.responses):
            responses.update(self._success(route, model))
        errors: set[int] = set()
        if rule.param_names:
            errors.add(404)
        if has_typed_params(rule):
            errors.add(400)
        if body is not None:
            errors.update((400, 413, 415, 422))
        if meta.files:
            errors.update((400, 413))
        if query:
            errors.add(422)
        if guard is not None and guard.csrf:
            errors.add(403)
        for status in errors:
            responses[str(status)] = error_ref(status)
        for key, spec in meta.responses:
            responses[str(key)] = explicit_response(key, spec, self.schemas)
            if _is_success(key) and isinstance(spec, str) and model is not None:
                # "201: 'Created'" on a handler annotated -> User: the body is still a User.
                responses[str(key)].update(json_response(spec, self.schemas, model))
        return dict(sorted(responses.items(), key=lambda item: _status_order(item[0])))

    def _success(self, route: RouteInfo, model: Any) -> dict[str, Any]:
        """The 2xx answer the return annotation promises."""
        if model is not None:
            return {"200": json_response("Successful Response", self.schemas, model)}
        if return_annotation(route.handler) in (None, type(None)):
            return {"204": {"description": "No Content"}}
        return {"200": {"description": "Successful Response"}}


def _status_order(key: str) -> tuple[int, str]:
    """Statuses in order, then ranges (``4XX``), then ``default``."""
    if key.isdigit():
        return int(key) * 10, key
    return (int(key[0]) * 1000 + 999, key) if key[0].isdigit() else (10**6, key)
