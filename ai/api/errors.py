"""The one place errors become HTTP responses.

Every error the API answers has one shape::

    {"error": {"code": "...", "message": "...", "fields": {...}, "request_id": "..."}}

``fields`` (only on validation errors) maps a field path such as ``messages[2].role`` to its
messages. :class:`ai.exceptions.AIError` subclasses answer their own ``status_code``/``code``
with their own message (never the SDK exception's text, which may echo a key fragment); DRF's
exceptions answer their status with a stable code; anything else is a 500 ``internal_error``,
logged with its traceback and the request id, secrets redacted (:func:`log_exception`). The
gateway's views call :func:`error_response` directly, so a host project needs no settings;
:func:`exception_handler` is the same mapping as a DRF ``EXCEPTION_HANDLER`` for host views that
want the format too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from ai.exceptions import AIError
from ai.redact import RedactingFilter

logger = logging.getLogger("ai.api")
logger.addFilter(RedactingFilter())

JSON = "application/json"


class InvalidRequest(drf.APIException):
    """A request body that failed validation. ``fields`` maps field paths to messages."""

    status_code = 400
    default_code = "invalid_request"
    default_detail = "The request is invalid."

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        super().__init__(f"Invalid request. {summary}", self.default_code)


class RequestTooLarge(drf.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is too large."


#: DRF exception class -> our code, where DRF's own default code is not the one we answer.
_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "invalid_json",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.NotAcceptable: "not_acceptable",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.Throttled: "throttled",
}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ValidationError detail as ``{"a.b[0].c": ["msg"]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        return {prefix or "body": [str(d) for d in detail]}
    if isinstance(detail, list):
        out = {}
        for i, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix or "body": [str(detail)]}


def describe(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``(status, error object without request_id, extra headers)`` for any exception."""
    headers: dict[str, str] = {}
    if isinstance(exc, AIError):
        if exc.status_code == 429 and exc.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(exc.retry_after)))
        headers.update(getattr(exc, "headers", None) or {})  # the gateway's x-ratelimit-*
        error = {"code": exc.code, "message": exc.message}
        if getattr(exc, "param", ""):  # UnsupportedParameterError names what it refused
            error["fields"] = {exc.param: [exc.message]}  # type: ignore[attr-defined]
        return exc.status_code, error, headers
    if isinstance(exc, Http404):
        return 404, {"code": "not_found", "message": "Not found."}, headers
    if isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, InvalidRequest):
        error = {"code": exc.default_code, "message": str(exc.detail), "fields": exc.fields}
        return exc.status_code, error, headers
    if isinstance(exc, drf.ValidationError):
        fields = _flatten(exc.detail)
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        error = {"code": "invalid_request", "message": f"Invalid request. {summary}"}
        return 400, {**error, "fields": fields}, headers
    if isinstance(exc, drf.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(math.ceil(exc.wait))
        return exc.status_code, {"code": _code(exc), "message": _message(exc)}, headers
    return 500, {"code": "internal_error", "message": "Internal server error."}, headers


def _code(exc: drf.APIException) -> str:
    for cls, code in _DRF_CODES.items():
        if isinstance(exc, cls):
            return code
    detail = exc.detail
    # simplejwt's InvalidToken carries a dict detail with its own "code".
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        return str(detail["code"])
    code = getattr(detail, "code", None)
    return str(code) if code else str(exc.default_code)


def _message(exc: drf.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        detail = detail.get("detail", exc.default_detail)
    elif isinstance(detail, list):
        detail = " ".join(str(d) for d in detail)
    return str(detail)


def log_exception(exc: BaseException, request_id: str | None) -> None:
    """Log what went wrong, secrets redacted (:class:`ai.redact.RedactingFilter` is on this
    logger).

    AIError messages are ours: one line, no traceback (they are expected: an upstream's 429 is
    not a bug). Anything else is a bug or an outage: an ERROR record with the exception attached
    (``exc_info``), so handlers print its traceback and Sentry's logging integration turns it
    into an event. Both carry the request id, in the message and as ``record.request_id``.
    """
    extra = {"request_id": request_id}
    if isinstance(exc, AIError):
        level = logging.WARNING if exc.status_code >= 500 else logging.INFO
        logger.log(
            level,
            "request %s failed: %s (%s) provider=%s model=%s upstream_status=%s",
            request_id,
            exc.code,
            exc.message,
            exc.provider,
            exc.model,
            exc.upstream_status,
            extra=extra,
        )
    elif not isinstance(exc, drf.APIException | Http404 | PermissionDenied):
        logger.error(
            "request %s failed with an unexpected %s",
            request_id,
            _type_chain(exc),
            exc_info=exc,
            extra=extra,
        )


def _type_chain(exc: BaseException) -> str:
    names = [type(exc).__qualname__]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(names) < 5:
        names.append(type(cause).__qualname__)
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(names)


def gateway_payload(status: int, error: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The gateway's own error body: ``{"error": {...}}``."""
    return {"error": error}


def error_response(
    exc: BaseException,
    request_id: str | None,
    payload: Callable[[int, dict[str, Any], BaseException], dict[str, Any]] = gateway_payload,
) -> HttpResponse:
    """The JSON error response for ``exc`` (logged here when it needs to be). ``payload``
    shapes the body from the status and the gateway's error dict (an API surface that answers
    in a vendor's shape passes its own)."""
    log_exception(exc, request_id)
    status, error, headers = describe(exc)
    error["request_id"] = request_id
    body = orjson.dumps(payload(status, error, exc))
    response = HttpResponse(body, status=status, content_type=JSON)
    for name, value in headers.items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER`` with the gateway's error format, for host projects' own views:
    ``REST_FRAMEWORK = {"EXCEPTION_HANDLER": "ai.api.errors.exception_handler"}``."""
    view = context.get("view")
    request_id = getattr(view, "request_id", None)
    log_exception(exc, request_id)
    status, error, headers = describe(exc)
    error["request_id"] = request_id
    return Response({"error": error}, status=status, headers=headers)
