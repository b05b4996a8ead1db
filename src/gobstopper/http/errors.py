"""HTTP exceptions: raise one in a request to answer with its status.

Every class carries the status it maps to when unhandled, a short public
``description`` (safe to show to clients) and optional extra ``headers``.
Register ``app.error_handler(status)`` to customise the answer; the handler
receives the exception instance.
"""

from __future__ import annotations

from typing import Any, NoReturn


class HTTPException(Exception):
    """An error that becomes an HTTP response with ``status_code``."""

    status_code: int = 500
    description: str = "Internal Server Error"

    def __init__(
        self,
        description: str | None = None,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
            if description is None:
                description = _reason(status_code)
        if description is not None:
            self.description = description
        self.headers: dict[str, str] = dict(headers) if headers else {}
        super().__init__(self.description)

    @property
    def title(self) -> str:
        """The status's reason phrase ("Not Found"), the title of its error page."""
        return _reason(self.status_code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_code}, {self.description!r})"


class BadRequest(HTTPException):
    """400: the request is malformed (bad path parameter, bad encoding, ...)."""

    status_code = 400
    description = "Bad Request"


class Unauthorized(HTTPException):
    """401: authentication is required."""

    status_code = 401
    description = "Unauthorized"


class Forbidden(HTTPException):
    """403: the client may not access this resource."""

    status_code = 403
    description = "Forbidden"


class NotFound(HTTPException):
    """404: nothing is routed at this path."""

    status_code = 404
    description = "Not Found"


class MethodNotAllowed(HTTPException):
    """405: the path exists but not for this method; sets ``Allow``."""

    status_code = 405
    description = "Method Not Allowed"

    def __init__(
        self, allowed: list[str] | tuple[str, ...] = (), description: str | None = None
    ) -> None:
        self.allowed = sorted(set(allowed))
        super().__init__(description, headers={"allow": ", ".join(self.allowed)})


class RequestTimeout(HTTPException):
    """408: the client was too slow to send the request."""

    status_code = 408
    description = "Request Timeout"


class Conflict(HTTPException):
    """409: the request conflicts with the resource's current state."""

    status_code = 409
    description = "Conflict"


class RequestTooLarge(HTTPException):
    """413: the body is larger than the configured limit."""

    status_code = 413
    description = "Request body too large"


class URITooLong(HTTPException):
    """414: the request path is longer than the router accepts."""

    status_code = 414
    description = "URI Too Long"


class UnsupportedMediaType(HTTPException):
    """415: the body's Content-Type is not the one the parser expects."""

    status_code = 415
    description = "Unsupported Media Type"


class UnprocessableEntity(HTTPException):
    """422: the body parsed but did not validate against the model."""

    status_code = 422
    description = "Unprocessable Entity"


class TooManyRequests(HTTPException):
    """429: a rate limit was hit."""

    status_code = 429
    description = "Too Many Requests"


class InternalServerError(HTTPException):
    """500: an unexpected error (its details are never shown unless debug)."""

    status_code = 500
    description = "Internal Server Error"


class ServiceUnavailable(HTTPException):
    """503: the app is shutting down or overloaded."""

    status_code = 503
    description = "Service Unavailable"


class BodyValidationError(BadRequest):
    """400: the body could not be decoded or validated.

    ``errors`` lists the problems as dicts with ``loc`` (field path) and
    ``msg`` so that clients can point at the offending field.
    """

    description = "Invalid request body"

    def __init__(
        self,
        description: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        *,
        status_code: int | None = None,
    ) -> None:
        self.errors: list[dict[str, Any]] = errors or []
        super().__init__(description, status_code=status_code)


_BY_STATUS: dict[int, type[HTTPException]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        RequestTimeout,
        Conflict,
        RequestTooLarge,
        URITooLong,
        UnsupportedMediaType,
        UnprocessableEntity,
        TooManyRequests,
        InternalServerError,
        ServiceUnavailable,
    )
}


def _reason(status: int) -> str:
    """``http.HTTPStatus``'s phrase for ``status``; "Error" for unregistered codes."""
    # PERF: lazy — http.HTTPStatus costs ~1 ms at import; only error pages and
    # exceptions built with a status_code and no description need a reason phrase.
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def exception_for_status(status: int, description: str | None = None) -> HTTPException:
    """Build the most specific exception for ``status``."""
    if status == 405:
        return MethodNotAllowed(description=description)
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(description)
    if not 400 <= status <= 599:
        raise ValueError(f"abort() needs an error status (400-599), got {status}")
    return HTTPException(description, status_code=status)


def abort(status: int, description: str | None = None) -> NoReturn:
    """Stop handling the request and answer with ``status``.

    >>> abort(404)
    >>> abort(403, "Admins only")
    """
    raise exception_for_status(status, description)
