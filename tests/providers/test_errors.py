"""ai.providers.errors: one status -> error table, and the three vendors answer by it."""

from __future__ import annotations

import pytest

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
from ai.providers.errors import error_class, status_error
from tests.providers.conftest import open_provider

EXPECTED = {
    400: UpstreamBadRequestError,
    401: UpstreamAuthenticationError,
    403: UpstreamPermissionError,
    404: ModelNotFoundError,
    408: UpstreamTimeoutError,
    409: UpstreamUnavailableError,
    418: UpstreamError,
    422: UpstreamBadRequestError,
    429: RateLimitedError,
    500: UpstreamUnavailableError,
    503: UpstreamUnavailableError,
    504: UpstreamTimeoutError,
    529: UpstreamUnavailableError,
}
MODELS = {"openai": "gpt-4o", "anthropic": "claude-haiku-4-5", "gemini": "gemini-fake"}


def test_the_table():
    assert {status: error_class(status) for status in EXPECTED} == EXPECTED


@pytest.mark.parametrize("vendor", MODELS)
async def test_every_vendor_maps_by_the_table(vendor, upstream_settings, fake_upstream):
    async with open_provider(vendor) as provider:
        for status, expected in EXPECTED.items():
            with pytest.raises(UpstreamError) as caught:
                await provider.complete_simple(f"[[fake:status={status}]]", model=MODELS[vendor])
            assert (status, type(caught.value)) == (status, expected)
            assert caught.value.upstream_status == status
            assert caught.value.provider == vendor


def test_message_retry_after_and_detail():
    err = status_error(
        400,
        provider="openai",
        vendor="OpenAI",
        model="m",
        label="invalid_request",
        detail="max_tokens is too large for sk-abcdefgh1234",
    )
    assert err.message == (
        "OpenAI rejected the request as invalid (invalid_request): "
        "max_tokens is too large for [redacted]"
    )
    limited = status_error(
        429, provider="gemini", vendor="Gemini", model="m", headers={}, retry_after=30.0
    )
    assert (limited.message, limited.retry_after) == (
        "Gemini rate limited the request (HTTP 429).",
        30.0,
    )
    # A header wins over the body's hint; only 429s and outages carry one.
    assert (
        status_error(
            503, provider="x", vendor="X", model=None, headers={"retry-after": "2"}, retry_after=9
        ).retry_after
        == 2.0
    )
    assert (
        status_error(
            404, provider="x", vendor="X", model=None, headers={"retry-after": "2"}
        ).retry_after
        is None
    )
