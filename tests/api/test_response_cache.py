"""The exact response cache through the HTTP API: the real providers point at the fake upstream,
whose captured requests count what went upstream, and the cache is a local-memory cache of its
own (``AI_CACHE_ALIAS``), emptied before each test."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from ai import metrics
from ai.services import factory, response_cache
from tests.api.conftest import COMPLETIONS, OPENAI_CHAT, ROUTED, ApiClient
from tests.keys.conftest import KeyClient

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "x-ai-cache"


def _body(text: str = "what is ASGI?", **fields) -> dict:
    return {
        "messages": [{"role": "user", "content": text}],
        "provider": "openai",
        "model": "gpt-4o",
        "temperature": 0,
        **fields,
    }


@pytest.fixture
def cached(upstream_settings):
    """The cache on (60 s, per user) in a local-memory cache of its own; no retries."""
    upstream_settings.CACHES = {
        **upstream_settings.CACHES,
        "responses": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "ai-response-cache-tests",
        },
    }
    upstream_settings.AI_CACHE_ALIAS = "responses"
    upstream_settings.AI_CACHE_TTL = 60
    upstream_settings.AI_MAX_RETRIES = 0
    factory.clear_llm_cache()
    response_cache.reset()
    response_cache._backend()[0].clear()
    yield upstream_settings
    response_cache._backend()[0].clear()
    response_cache.reset()


@pytest.fixture
def bob(transactional_db) -> ApiClient:
    other = get_user_model().objects.create_user("bob", password="bob-password-1")
    return ApiClient(str(AccessToken.for_user(other)))


async def test_a_miss_then_a_hit_without_an_upstream_call(cached, api, fake_upstream, usage_events):
    first = await api.post(COMPLETIONS, _body())
    assert first.status_code == 200, first.content
    assert first[HEADER] == "miss"
    assert len(fake_upstream.requests) == 1

    second = await api.post(COMPLETIONS, _body())
    assert second.status_code == 200, second.content
    assert second[HEADER] == "hit"
    assert len(fake_upstream.requests) == 1  # answered from the cache
    one, two = first.json(), second.json()
    assert two["content"] == one["content"] and two["model"] == one["model"] == "gpt-4o"
    assert two["usage"] == one["usage"]
    # Its own id, nothing spent, no upstream latency.
    assert two["id"] == second["X-Request-ID"] != one["id"]
    assert (two["cost"], two["latency_ms"]) == ("0", 0.0)

    miss, hit = usage_events
    assert (
        miss.status == "ok" and miss.usage is not None and miss.upstream_request_id != "cache-hit"
    )
    assert (hit.status, hit.request_id, hit.provider, hit.model) == (
        "ok",
        two["id"],
        "openai",
        "gpt-4o",
    )
    assert (hit.cost, hit.usage, hit.upstream_request_id) == (Decimal(0), None, "cache-hit")


def _lookups(surface: str, result: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "ai_gateway_response_cache_lookups_total", {"surface": surface, "result": result}
    )
    return value or 0.0


async def test_lookups_are_counted_in_the_metrics(cached, api, fake_upstream):
    before = _lookups("completions", "hit"), _lookups("completions", "miss")
    await api.post(COMPLETIONS, _body())
    await api.post(COMPLETIONS, _body())
    await api.post(COMPLETIONS, _body(temperature=1))  # no lookup
    after = _lookups("completions", "hit"), _lookups("completions", "miss")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_another_request_misses(cached, api, fake_upstream):
    await api.post(COMPLETIONS, _body())
    for body in (
        _body("what is WSGI?"),
        _body(max_tokens=50),
        _body(model="gpt-4o-mini"),
        {
            **_body(),
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "what is ASGI?"},
            ],
        },
    ):
        response = await api.post(COMPLETIONS, body)
        assert response.status_code == 200, response.content
        assert response[HEADER] == "miss", body
    assert len(fake_upstream.requests) == 5


async def test_answers_are_per_user_by_default(cached, api, bob, fake_upstream):
    await api.post(COMPLETIONS, _body())
    response = await bob.post(COMPLETIONS, _body())
    assert response[HEADER] == "miss"
    assert len(fake_upstream.requests) == 2


async def test_shared_answers_reach_another_user_with_their_own_id(cached, api, bob, fake_upstream):
    cached.AI_CACHE_SHARED = True
    first = await api.post(COMPLETIONS, _body())
    response = await bob.post(COMPLETIONS, _body())
    assert response[HEADER] == "hit"
    assert len(fake_upstream.requests) == 1
    assert response.json()["id"] == response["X-Request-ID"]
    assert first.json()["id"] not in response.content.decode()


@pytest.mark.parametrize("temperature", [0.7, None])
async def test_a_temperature_other_than_0_is_cached_only_when_asked(
    cached, api, fake_upstream, temperature
):
    body = _body(temperature=temperature)
    for _ in range(2):
        response = await api.post(COMPLETIONS, body)
        assert response.status_code == 200, response.content
        assert response[HEADER] == "miss"
    assert len(fake_upstream.requests) == 2

    use = {HEADER: "use"}
    assert (await api.post(COMPLETIONS, body, headers=use))[HEADER] == "miss"
    assert (await api.post(COMPLETIONS, body, headers=use))[HEADER] == "hit"
    assert len(fake_upstream.requests) == 3


async def test_skip_neither_reads_nor_stores(cached, api, fake_upstream):
    skip = {HEADER: "Skip"}
    assert (await api.post(COMPLETIONS, _body(), headers=skip))[HEADER] == "miss"
    assert (await api.post(COMPLETIONS, _body()))[HEADER] == "miss"  # skip stored nothing
    assert (await api.post(COMPLETIONS, _body(), headers=skip))[HEADER] == "miss"
    assert len(fake_upstream.requests) == 3
    assert (await api.post(COMPLETIONS, _body()))[HEADER] == "hit"


async def test_a_bad_header_value_is_a_400_naming_it(cached, api, fake_upstream):
    response = await api.post(COMPLETIONS, _body(), headers={HEADER: "always"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and HEADER in error["fields"]
    assert fake_upstream.requests == []


async def test_an_error_is_not_cached(cached, api, fake_upstream, usage_events):
    body = _body("fails once [[fake:status=500 fail_times=1 id=cache-err]]")
    failed = await api.post(COMPLETIONS, body)
    assert failed.status_code == 503  # upstream_unavailable
    assert HEADER not in failed
    retried = await api.post(COMPLETIONS, body)
    assert retried.status_code == 200, retried.content
    assert retried[HEADER] == "miss"
    assert len(fake_upstream.requests) == 2  # the retry went upstream again
    assert (await api.post(COMPLETIONS, body))[HEADER] == "hit"
    assert [e.status for e in usage_events] == ["error", "ok", "ok"]


async def test_streams_are_not_cached_and_carry_no_header(cached, api, fake_upstream):
    stream = await api.post(COMPLETIONS, _body(stream=True))
    assert stream.status_code == 200
    b"".join([chunk async for chunk in stream.streaming_content])
    assert HEADER not in stream
    assert (await api.post(COMPLETIONS, _body()))[HEADER] == "miss"
    again = await api.post(COMPLETIONS, _body(stream=True))
    b"".join([chunk async for chunk in again.streaming_content])
    assert len(fake_upstream.requests) == 3  # the cached JSON answer never serves a stream


async def test_ttl_0_is_off_and_says_nothing(cached, api, fake_upstream):
    cached.AI_CACHE_TTL = 0
    for _ in range(2):
        response = await api.post(COMPLETIONS, _body())
        assert response.status_code == 200, response.content
        assert HEADER not in response
    assert len(fake_upstream.requests) == 2


async def test_the_openai_compatible_endpoint(cached, api, fake_upstream):
    body = {"model": "gpt-4o", "messages": _body()["messages"], "temperature": 0}
    first = await api.post(OPENAI_CHAT, body)
    assert first.status_code == 200, first.content
    assert first[HEADER] == "miss"
    second = await api.post(OPENAI_CHAT, body)
    assert second[HEADER] == "hit"
    assert len(fake_upstream.requests) == 1
    one, two = first.json(), second.json()
    assert two["choices"] == one["choices"] and two["usage"] == one["usage"]
    assert two["id"] == f"chatcmpl-{second['X-Request-ID']}" != one["id"]
    # The same call through the gateway's own endpoint is the same entry.
    native = await api.post(COMPLETIONS, {**_body(), "provider": None})
    assert native[HEADER] == "hit"
    assert native.json()["content"] == one["choices"][0]["message"]["content"]


async def test_a_hit_counts_against_the_rate_limit(cached, api, fake_upstream):
    cached.AI_DEFAULT_RPM = 2
    assert (await api.post(COMPLETIONS, _body()))[HEADER] == "miss"
    hit = await api.post(COMPLETIONS, _body())
    assert hit[HEADER] == "hit"
    assert hit["x-ratelimit-remaining-requests"] == "0"
    refused = await api.post(COMPLETIONS, _body())
    assert refused.status_code == 429
    assert len(fake_upstream.requests) == 1


async def test_an_api_key_gets_no_answer_of_a_model_it_may_not_use(
    cached, api, user, fake_upstream
):
    from ai.models import ApiKey

    _, narrow = await sync_to_async(ApiKey.issue)(user, "narrow", allowed_models=["gpt-4o-mini"])
    key = KeyClient(narrow)
    assert (await api.post(COMPLETIONS, _body()))[HEADER] == "miss"  # the owner's JWT
    refused = await key.post(COMPLETIONS, _body())
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"

    # A route: the key's targets are not the JWT's, so neither is its entry.
    routed = {"prompt": "hi", "complexity": "simple", "temperature": 0}
    assert (await api.post(ROUTED, routed))[HEADER] == "miss"
    assert (await api.post(ROUTED, routed))[HEADER] == "hit"
    by_key = await key.post(ROUTED, routed)
    assert by_key.status_code == 200, by_key.content
    assert by_key[HEADER] == "miss"
    assert by_key.json()["model"] == "gpt-4o-mini"
    assert (await key.post(ROUTED, routed))[HEADER] == "hit"
    assert len(fake_upstream.requests) == 3
