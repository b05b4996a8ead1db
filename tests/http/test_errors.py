"""The HTTP exception hierarchy and abort()."""

from __future__ import annotations

import pytest

from gobstopper.http import errors
from gobstopper.http.errors import HTTPException, abort, exception_for_status

CLASSES = [
    (errors.BadRequest, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.MethodNotAllowed, 405),
    (errors.RequestTimeout, 408),
    (errors.Conflict, 409),
    (errors.RequestTooLarge, 413),
    (errors.URITooLong, 414),
    (errors.UnsupportedMediaType, 415),
    (errors.UnprocessableEntity, 422),
    (errors.TooManyRequests, 429),
    (errors.InternalServerError, 500),
    (errors.ServiceUnavailable, 503),
    (errors.BodyValidationError, 400),
]


@pytest.mark.parametrize(("cls", "status"), CLASSES)
def test_every_class_is_an_http_exception_with_its_status(cls, status):
    exc = cls()
    assert isinstance(exc, HTTPException)
    assert exc.status_code == status
    assert exc.description and str(exc) == exc.description


@pytest.mark.parametrize(
    ("cls", "status"), [c for c in CLASSES if c[0] is not errors.BodyValidationError]
)
def test_abort_raises_the_most_specific_class(cls, status):
    with pytest.raises(cls) as info:
        abort(status, "custom")
    assert info.value.description == "custom"
    assert info.value.status_code == status


def test_abort_with_other_error_statuses_and_bad_statuses():
    with pytest.raises(HTTPException) as info:
        abort(418)
    assert info.value.status_code == 418 and info.value.description == "I'm a Teapot"
    with pytest.raises(ValueError, match="400-599"):
        abort(302)
    with pytest.raises(ValueError):
        exception_for_status(700)


def test_method_not_allowed_sets_allow():
    exc = errors.MethodNotAllowed(["POST", "GET", "GET"])
    assert exc.allowed == ["GET", "POST"]
    assert exc.headers == {"allow": "GET, POST"}
    assert repr(exc) == "MethodNotAllowed(405, 'Method Not Allowed')"


def test_generic_exception_with_status_and_headers():
    exc = HTTPException(status_code=402, headers={"x": "y"})
    assert exc.description == "Payment Required" and exc.headers == {"x": "y"}
    assert HTTPException(status_code=599).description == "Error"


def test_body_validation_error_carries_field_errors():
    exc = errors.BodyValidationError("bad", [{"loc": ["a"], "msg": "required"}])
    assert isinstance(exc, errors.BadRequest)
    assert exc.errors == [{"loc": ["a"], "msg": "required"}]
    assert errors.BodyValidationError(status_code=422).status_code == 422


@pytest.mark.parametrize(("cls", "status"), CLASSES)
def test_the_title_is_the_http_status_phrase_whatever_the_class_name(cls, status):
    from http import HTTPStatus

    assert cls().title == HTTPStatus(status).phrase


def test_titles_of_custom_descriptions_statuses_and_subclasses():
    class PaymentNeeded(HTTPException):
        status_code = 402

    assert errors.NotFound("No such user").title == "Not Found"
    assert errors.MethodNotAllowed(["GET"]).title == "Method Not Allowed"
    assert PaymentNeeded().title == "Payment Required"
    assert HTTPException(status_code=418).title == "I'm a Teapot"
    assert HTTPException(status_code=499).title == "Error"  # no registered phrase
