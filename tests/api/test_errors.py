"""Upstream and internal failures become the gateway's JSON errors, with real statuses, no
leaked exception text, and a usage record."""

from __future__ import annotations

import logging

import pytest

import ai.services.gateway
from ai.usage.events import STATUS_ERROR
from tests.api.conftest import CHAT, COMPLETIONS, ROUTED
from tests.api.scripted import LEAKED_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["request_id"] == response["X-Request-ID"]
    assert set(error) == {"code", "message", "request_id"}
    return error


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("rate_limited", 429),
        ("model_not_found", 404),
        ("upstream_error", 502),
        ("upstream_connection_error", 502),
        ("upstream_authentication_failed", 502),
        ("upstream_permission_denied", 502),
        ("upstream_bad_request", 400),
        ("upstream_unavailable", 503),
        ("upstream_timeout", 504),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_errors_map_to_status_and_code(
    api, scripted_provider, usage_events, user, code, status, stream
):
    response = await api.post(
        CHAT, {"prompt": f"[[raise:{code}]]", "provider": "scripted", "stream": stream}
    )
    error = _error(response, status)
    assert error["code"] == code
    [event] = usage_events
    assert (event.status, event.error_code, event.request_id) == (
        STATUS_ERROR,
        code,
        error["request_id"],
    )
    assert (event.provider, event.model, event.user_id) == ("scripted", "scripted-1", user.pk)
    assert event.streamed is stream


@pytest.mark.parametrize(("retry_after", "header"), [("2", "2"), ("0.2", "1"), ("7.01", "8")])
async def test_rate_limit_sets_retry_after_in_whole_seconds(
    api, scripted_provider, retry_after, header
):
    response = await api.post(
        COMPLETIONS,
        {
            "messages": [
                {"role": "user", "content": f"[[raise:rate_limited retry_after={retry_after}]]"}
            ],
            "provider": "scripted",
        },
    )
    assert _error(response, 429)["code"] == "rate_limited"
    assert response["Retry-After"] == header


async def test_rate_limit_without_a_hint_has_no_retry_after(api, scripted_provider):
    response = await api.post(CHAT, {"prompt": "[[raise:rate_limited]]", "provider": "scripted"})
    _error(response, 429)
    assert "Retry-After" not in response


async def test_known_but_unconfigured_provider_is_400(api, usage_events):
    response = await api.post(CHAT, {"prompt": "hi", "provider": "anthropic"})
    error = _error(response, 400)
    assert error["code"] == "provider_not_configured"
    assert "ANTHROPIC_API_KEY" in error["message"]
    [event] = usage_events
    assert (event.error_code, event.provider) == ("provider_not_configured", "anthropic")


async def test_no_configured_route_is_503(api, settings):
    settings.AI_OFFLINE_ENABLED = False
    response = await api.post(ROUTED, {"prompt": "hi", "complexity": "simple"})
    assert _error(response, 503)["code"] == "no_route_available"


async def test_sdk_exception_text_never_leaks(api, scripted_provider, caplog):
    caplog.set_level(logging.DEBUG)
    for stream in (False, True):
        response = await api.post(
            CHAT, {"prompt": "[[leak]]", "provider": "scripted", "stream": stream}
        )
        error = _error(response, 502)
        assert error["code"] == "upstream_error"
        assert LEAKED_SECRET not in response.content.decode()
    assert caplog.records, "the failure should have been logged"
    assert LEAKED_SECRET not in caplog.text


async def test_unexpected_exception_is_a_logged_500_with_its_traceback_redacted(
    api, monkeypatch, caplog, usage_events
):
    class BrokenRouter:
        async def plan(self, *args, **kwargs):
            raise RuntimeError(f"x-api-key: {LEAKED_SECRET}")

    monkeypatch.setattr(ai.services.gateway, "get_llm_router", BrokenRouter)
    caplog.set_level(logging.DEBUG)
    response = await api.post(CHAT, {"prompt": "hi"})
    error = _error(response, 500)
    request_id = response["X-Request-ID"]
    assert error == {
        "code": "internal_error",
        "message": "Internal server error.",
        "request_id": request_id,
    }
    [record] = [r for r in caplog.records if r.name == "ai.api" and r.levelno == logging.ERROR]
    assert request_id in record.getMessage()
    assert record.request_id == request_id  # for structured handlers
    assert record.exc_info is not None  # handlers and Sentry see the exception itself
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "Traceback (most recent call last)" in caplog.text
    assert "gateway.py" in caplog.text  # the stack frames are there
    assert "RuntimeError: x-api-key: [redacted]" in caplog.text  # ... and the message, redacted
    assert LEAKED_SECRET not in caplog.text
    [event] = usage_events
    assert (event.status, event.error_code) == (STATUS_ERROR, "internal_error")


async def test_retryable_errors_are_retried_before_answering(api, scripted_provider, settings):
    """The view goes through the router, so its retries apply (here: 2 retries, all failing)."""
    settings.AI_MAX_RETRIES = 2
    calls = []
    original = scripted_provider.ScriptedProvider._complete

    async def counting(self, request):
        calls.append(request)
        return await original(self, request)

    scripted_provider.ScriptedProvider._complete = counting
    try:
        response = await api.post(
            CHAT, {"prompt": "[[raise:upstream_unavailable]]", "provider": "scripted"}
        )
    finally:
        scripted_provider.ScriptedProvider._complete = original
    _error(response, 503)
    assert len(calls) == 3
