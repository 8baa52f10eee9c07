"""Upstream HTTP status -> the app's error, once for every vendor.

Each vendor module reads its own error body (a code or type worth showing, the explanation of a
400, a retry hint) and its own quirks first (an Anthropic in-band error has status 200; a bad
Gemini key is a 400 with reason ``API_KEY_INVALID``); the class, the message and ``retry_after``
come from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai.exceptions import (
    ModelNotFoundError,
    RateLimitedError,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamPermissionError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ai.providers._http import parse_retry_after, sanitize

#: Upstream HTTP status -> our error. A 5xx not listed is :class:`UpstreamUnavailableError`
#: (500 too: OpenAI, Anthropic and Google all document their 500s as transient, to retry); a
#: status not listed and below 500 is a plain :class:`UpstreamError` (502).
STATUS_ERRORS: dict[int, type[UpstreamError]] = {
    400: UpstreamBadRequestError,
    401: UpstreamAuthenticationError,
    402: UpstreamPermissionError,  # Anthropic: billing
    403: UpstreamPermissionError,
    404: ModelNotFoundError,
    408: UpstreamTimeoutError,
    409: UpstreamUnavailableError,  # a conflict / Google's ABORTED: retry later
    413: UpstreamBadRequestError,
    422: UpstreamBadRequestError,
    429: RateLimitedError,
    504: UpstreamTimeoutError,
}

#: What the client is told, by class ("{vendor}" is "OpenAI", "Anthropic", "Gemini").
MESSAGES: dict[type[UpstreamError], str] = {
    UpstreamBadRequestError: "{vendor} rejected the request as invalid",
    UpstreamAuthenticationError: "{vendor} rejected the gateway's API key",
    UpstreamPermissionError: "{vendor} denied the gateway access to this resource",
    ModelNotFoundError: "{vendor} does not know the model or resource",
    UpstreamTimeoutError: "{vendor} timed out handling the request",
    UpstreamUnavailableError: "{vendor} is unavailable or overloaded",
    RateLimitedError: "{vendor} rate limited the request",
    UpstreamError: "{vendor} returned an error",
}


def error_class(status: int) -> type[UpstreamError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return UpstreamUnavailableError if status >= 500 else UpstreamError


def status_error(
    status: int,
    *,
    provider: str,
    vendor: str,
    model: str | None,
    label: str | None = None,
    detail: object = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | Any | None = None,
    retry_after: float | None = None,
    secrets: tuple[object, ...] = (),
) -> UpstreamError:
    """Our error for an upstream answer with HTTP ``status``.

    ``label`` is the vendor's error code, type or status name, already checked to be an
    identifier (it is shown to clients); the message says it, or the status when there is none.
    ``detail`` (the upstream's explanation) is shown only for a 400-class rejection, which the
    client can act on, with ``secrets`` and anything key-shaped removed. ``retry_after``: the
    ``Retry-After`` / ``retry-after-ms`` of ``headers``, else the hint the vendor gave in its
    body; only for a rate limit or an unavailable upstream.
    """
    cls = error_class(status)
    message = f"{MESSAGES[cls].format(vendor=vendor)} ({label or f'HTTP {status}'})"
    if cls is UpstreamBadRequestError and isinstance(detail, str) and detail:
        message += ": " + sanitize(detail, *secrets)
    else:
        message += "."
    wait = None
    if cls is RateLimitedError or cls is UpstreamUnavailableError:
        wait = parse_retry_after(headers)
        wait = retry_after if wait is None else wait
    return cls(
        message,
        provider=provider,
        model=model,
        upstream_status=status,
        request_id=request_id,
        retry_after=wait,
    )
