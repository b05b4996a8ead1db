"""OpenAPI 3.1 from the code: the document, the docs page and response models.

``openapi_document(app)`` describes every route from what the app already
knows (rules and converters, typed arguments, msgspec models, return
annotations, blueprints, SecurityMiddleware); ``enable_openapi(app)`` serves
it at ``/openapi.json`` with a Swagger UI page at ``/docs`` whose assets come
from the ``swagger-ui-py`` package (``pip install "gobstopper[openapi]"``).
``operation(...)`` adds what a signature cannot say. Nothing here is
imported by ``import gobstopper``.
"""

from __future__ import annotations

from gobstopper.http.response_models import ResponseValidationError
from gobstopper.openapi.builder import Info, openapi_document
from gobstopper.openapi.cli import openapi_command
from gobstopper.openapi.docs_page import enable_openapi
from gobstopper.openapi.metadata import Operation, operation

__all__ = [
    "Info",
    "Operation",
    "ResponseValidationError",
    "enable_openapi",
    "openapi_command",
    "openapi_document",
    "operation",
]
