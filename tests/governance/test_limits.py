"""Rate limits through the API: 429 with OpenAI's headers, the headers on success, tokens
corrected by the real usage, user overrides and exemptions, API keys, and every path counted.

The offline provider counts one token per word (+1 per message), so the numbers are exact: the
prompt "hello there" is 3 prompt tokens and its answer "[offline:offline-echo] You said: hello
there" 5 completion tokens; the gateway's estimate of that prompt before the call is 4 tokens.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

import ai.usage
from ai.models import ApiKey, UserLimits
from tests.api.conftest import CHAT, OPENAI_CHAT, ROUTED, ApiClient

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT_HEADERS = {
    f"x-ratelimit-{part}-{kind}"
    for part in ("limit", "remaining", "reset")
    for kind in ("requests", "tokens")
}


@pytest.fixture(autouse=True)
def usage_events(monkeypatch):
    events: list = []
    monkeypatch.setattr(ai.usage, "record_usage", events.append)
    return events


def _headers(response) -> dict[str, str]:
    return {name: response[name] for name in LIMIT_HEADERS if response.has_header(name)}


async def test_over_the_rpm_limit_is_429_with_headers(api, settings, usage_events):
    settings.AI_DEFAULT_RPM = 3
    answers = [await api.post(CHAT, {"prompt": f"hello {i}"}) for i in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r["x-ratelimit-remaining-requests"] for r in answers] == ["2", "1", "0"]

    refused = await api.post(CHAT, {"prompt": "one too many"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert "3 requests per minute for the user" in error["message"]
    assert refused["x-ratelimit-limit-requests"] == "3"
    assert refused["x-ratelimit-remaining-requests"] == "0"
    # 3 a minute: one more fits within 20 s, the bucket is whole within a minute.
    assert 1 <= int(refused["Retry-After"]) <= 20
    assert refused["x-ratelimit-reset-requests"].endswith("s")
    assert "x-ratelimit-limit-tokens" not in _headers(refused)
    # Refused before any upstream call, and recorded as such.
    assert [e.status for e in usage_events] == ["ok", "ok", "ok", "error"]
    assert usage_events[-1].error_code == "rate_limit_exceeded"
    assert usage_events[-1].usage is None


async def test_success_carries_both_trios(api, settings):
    settings.AI_DEFAULT_RPM = 60
    settings.AI_DEFAULT_TPM = 10_000
    response = await api.post(CHAT, {"prompt": "hello there", "max_tokens": 100})
    assert response.status_code == 200
    # 4 estimated prompt tokens + max_tokens are taken before the call.
    assert _headers(response) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",  # 60 a minute: one back each second
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "9896",
        "x-ratelimit-reset-tokens": "624ms",  # 104 tokens at 10,000 a minute
    }


async def test_no_limit_no_headers(api):
    response = await api.post(CHAT, {"prompt": "hello"})
    assert response.status_code == 200
    assert _headers(response) == {}


async def test_tokens_are_corrected_by_the_real_usage(api, settings):
    """Each request is charged 504 tokens before its call (4 + max_tokens 500) and uses 8: the
    second fits only because the first gave its 496 unused tokens back."""
    settings.AI_DEFAULT_TPM = 1000
    first = await api.post(CHAT, {"prompt": "hello there", "max_tokens": 500})
    assert first.status_code == 200
    assert first["x-ratelimit-remaining-tokens"] == "496"
    assert first.json()["usage"]["total_tokens"] == 8

    second = await api.post(CHAT, {"prompt": "hello there", "max_tokens": 500})
    assert second.status_code == 200, second.content
    remaining = int(second["x-ratelimit-remaining-tokens"])
    # 1000 - 8 (real) - 504 (estimate), plus what refilled meanwhile (1000 a minute).
    assert 488 <= remaining <= 488 + 50


async def test_over_the_token_limit_names_it(api, settings):
    settings.AI_DEFAULT_TPM = 50
    assert (await api.post(CHAT, {"prompt": "hello there", "max_tokens": 40})).status_code == 200
    # 50 - 44 + 36 given back = 42 left; the next one needs 49.
    refused = await api.post(CHAT, {"prompt": "hello there", "max_tokens": 45})
    assert refused.status_code == 429
    assert "50 tokens per minute" in refused.json()["error"]["message"]
    assert refused["x-ratelimit-limit-tokens"] == "50"
    assert int(refused["x-ratelimit-remaining-tokens"]) < 49


async def test_a_user_override_replaces_the_default(api, user, settings):
    settings.AI_DEFAULT_RPM = 100
    await UserLimits.objects.acreate(user=user, rpm=1)
    first = await api.post(CHAT, {"prompt": "hello"})
    assert first.status_code == 200 and first["x-ratelimit-limit-requests"] == "1"
    assert (await api.post(CHAT, {"prompt": "hello"})).status_code == 429


async def test_an_override_saved_here_applies_to_the_next_request(api, user, settings):
    settings.AI_DEFAULT_RPM = 100
    assert (await api.post(CHAT, {"prompt": "a"}))["x-ratelimit-limit-requests"] == "100"
    await UserLimits.objects.acreate(user=user, rpm=5)  # the process's cached "none" goes
    assert (await api.post(CHAT, {"prompt": "b"}))["x-ratelimit-limit-requests"] == "5"


async def test_staff_are_limited_only_an_explicit_exemption_lifts_it(settings, transactional_db):
    settings.AI_DEFAULT_RPM = 1
    users = get_user_model().objects
    admin = await users.acreate_superuser("root", password="root-password-1")
    exempt = await users.acreate_user("exempt", password="exempt-password-1")
    await UserLimits.objects.acreate(user=exempt, exempt=True, rpm=1)

    staff_api = ApiClient(str(AccessToken.for_user(admin)))
    assert (await staff_api.post(CHAT, {"prompt": "a"})).status_code == 200
    assert (await staff_api.post(CHAT, {"prompt": "b"})).status_code == 429

    exempt_api = ApiClient(str(AccessToken.for_user(exempt)))
    answers = [await exempt_api.post(CHAT, {"prompt": str(i)}) for i in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert _headers(answers[-1]) == {}


async def test_a_key_limit_counts_on_top_of_its_owner(user, settings):
    settings.AI_DEFAULT_RPM = 10
    key, secret = await _issue(user, rpm=2)
    by_key = ApiClient(None)
    headers = {"x-api-key": secret}
    answers = [await by_key.post(CHAT, {"prompt": str(i)}, headers=headers) for i in range(2)]
    assert [r.status_code for r in answers] == [200, 200]
    assert answers[-1]["x-ratelimit-limit-requests"] == "2"  # the stricter one
    refused = await by_key.post(CHAT, {"prompt": "again"}, headers=headers)
    assert refused.status_code == 429
    assert f"2 requests per minute for API key {key.prefix}" in refused.json()["error"]["message"]
    # The owner's own limit still has room: 2 of 10 used (the refused one took nothing).
    jwt = ApiClient(str(AccessToken.for_user(user)))
    response = await jwt.post(CHAT, {"prompt": "by token"})
    assert response.status_code == 200
    assert response["x-ratelimit-remaining-requests"] == "7"


async def _issue(user, **fields):
    from asgiref.sync import sync_to_async

    return await sync_to_async(ApiKey.issue)(user, "ci", **fields)


async def test_every_path_counts_against_one_limit(api, settings):
    """JSON, stream, routed and OpenAI-compatible requests share the user's limit; a stream over
    the limit is refused with the JSON 429 before any byte."""
    settings.AI_DEFAULT_RPM = 4
    assert (await api.post(CHAT, {"prompt": "json"})).status_code == 200
    stream = await api.post(CHAT, {"prompt": "stream", "stream": True})
    assert stream.status_code == 200
    b"".join([chunk async for chunk in stream.streaming_content])
    assert stream["x-ratelimit-remaining-requests"] == "2"
    assert (await api.post(ROUTED, {"prompt": "routed", "complexity": "simple"})).status_code == 200
    compat = await api.post(
        OPENAI_CHAT, {"model": "offline-echo", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert compat.status_code == 200 and compat["x-ratelimit-remaining-requests"] == "0"

    refused_stream = await api.post(CHAT, {"prompt": "stream", "stream": True})
    assert refused_stream.status_code == 429
    assert refused_stream["content-type"] == "application/json"
    assert refused_stream.json()["error"]["code"] == "rate_limit_exceeded"
    refused_compat = await api.post(
        OPENAI_CHAT,
        {"model": "offline-echo", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    assert refused_compat.status_code == 429
    assert refused_compat["x-ratelimit-limit-requests"] == "4"
    assert refused_compat["Retry-After"]
    error = refused_compat.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
