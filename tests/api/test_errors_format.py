"""ai.api.errors: the one mapping from exceptions to the error format, also usable as a DRF
EXCEPTION_HANDLER by host views."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf

from ai.api.errors import describe, error_response, exception_handler
from ai.exceptions import RateLimitedError, UpstreamTimeoutError


def test_ai_errors_use_their_own_status_code_and_message():
    status, error, headers = describe(UpstreamTimeoutError(provider="openai"))
    assert status == 504
    assert error == {"code": "upstream_timeout", "message": UpstreamTimeoutError.default_message}
    assert headers == {}


def test_rate_limit_retry_after_is_rounded_up():
    assert describe(RateLimitedError(retry_after=1.2))[2] == {"Retry-After": "2"}


def test_drf_validation_errors_are_flattened_to_field_paths():
    exc = drf.ValidationError({"messages": [{"role": ["bad"]}, {}], "x": ["required"]})
    status, error, _ = describe(exc)
    assert status == 400
    assert error["code"] == "invalid_request"
    assert error["fields"] == {"messages[0].role": ["bad"], "x": ["required"]}


def test_django_exceptions():
    assert describe(Http404())[0:2] == (404, {"code": "not_found", "message": "Not found."})
    assert describe(PermissionDenied())[0] == 403
    assert describe(drf.PermissionDenied())[1]["code"] == "permission_denied"


def test_throttled_sets_retry_after():
    status, error, headers = describe(drf.Throttled(wait=3.5))
    assert (status, error["code"], headers) == (429, "throttled", {"Retry-After": "4"})


def test_unknown_exceptions_are_a_generic_500():
    response = error_response(KeyError("sk-secret"), "rid")
    assert response.status_code == 500
    assert b"sk-secret" not in response.content
    assert b'"request_id":"rid"' in response.content


def test_exception_handler_for_host_views():
    class View:
        request_id = "abc"

    response = exception_handler(RateLimitedError(retry_after=2), {"view": View()})
    assert response.status_code == 429
    assert response["Retry-After"] == "2"
    assert response.data == {
        "error": {
            "code": "rate_limited",
            "message": RateLimitedError.default_message,
            "request_id": "abc",
        }
    }
