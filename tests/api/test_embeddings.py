"""The two embeddings endpoints through Django's async client: the native one and OpenAI's
shape, on the offline provider and on OpenAI's SDK against the fake upstream; validation
naming each field, errors in each surface's shape, the ledger event with tokens and cost, API
keys' allowed models, and the rate limits counting embeddings like any request."""

from __future__ import annotations

import base64
from array import array
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from ai.providers.offline import EMBED_MODEL, embedding
from tests.fake_upstream import fake_prompt_tokens
from tests.fake_upstream.vectors import fake_vector

pytestmark = pytest.mark.django_db(transaction=True)

NATIVE = "/api/v1/app/ai/embeddings"
OPENAI = "/api/v1/openai/embeddings"
CHAT = "/api/v1/app/ai/chat"
TEXTS = ["first document about cats", "second one, about dogs"]
SMALL = "text-embedding-3-small"


@pytest.fixture(autouse=True)
def prices(transactional_db):
    # Transactional tests empty the tables the data migration seeded: load the prices again.
    from ai.usage.price_data import apply_prices, read_price_file
    from ai.usage.pricing import invalidate_prices

    apply_prices(read_price_file())
    invalidate_prices()
    yield
    invalidate_prices()


@pytest.fixture
async def live_upstream(upstream_settings, fake_upstream):
    """The real providers configured against the fake upstream; their clients closed in the
    test's loop."""
    from ai.services import factory

    yield fake_upstream
    await factory.aclose_providers()


def small_cost(tokens: int) -> str:
    return format((Decimal(tokens) * Decimal("0.02") / 1_000_000).quantize(Decimal("1e-10")), "f")


# --- the native endpoint ----------------------------------------------------------------------


async def test_native_offline_by_default(api, usage_events):
    response = await api.post(NATIVE, {"input": TEXTS})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == response["x-request-id"]
    assert (body["provider"], body["model"]) == ("offline", EMBED_MODEL)
    assert body["data"] == [{"index": i, "embedding": embedding(t)} for i, t in enumerate(TEXTS)]
    assert body["usage"]["prompt_tokens"] == 8 and body["usage"]["completion_tokens"] == 0
    assert body["cost"] == "0.0000000000"
    assert response["x-ai-route"] == "route=override; offline/offline-embed=ok"
    [event] = usage_events
    assert (event.endpoint, event.status, event.provider, event.model) == (
        "embeddings",
        "ok",
        "offline",
        EMBED_MODEL,
    )
    assert event.request_id == response["x-request-id"]
    assert event.usage.prompt_tokens == 8 and event.cost == Decimal(0)


async def test_native_one_string_and_dimensions(api):
    response = await api.post(NATIVE, {"input": "just one", "dimensions": 32})
    assert response.status_code == 200, response.content
    [item] = response.json()["data"]
    assert item == {"index": 0, "embedding": embedding("just one", 32)}


async def test_native_on_openai(api, live_upstream, usage_events):
    response = await api.post(NATIVE, {"input": TEXTS, "model": SMALL, "dimensions": 64})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["provider"], body["model"]) == ("openai", SMALL)
    assert [d["embedding"] for d in body["data"]] == [fake_vector(SMALL, t, 64) for t in TEXTS]
    tokens = fake_prompt_tokens(TEXTS)
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] == tokens
    assert body["cost"] == small_cost(tokens)
    assert live_upstream.requests[0].body["dimensions"] == 64
    [event] = usage_events
    assert (event.endpoint, event.provider, event.model) == ("embeddings", "openai", SMALL)
    assert event.usage.prompt_tokens == tokens
    assert event.cost == Decimal(small_cost(tokens))


async def test_native_on_gemini(api, live_upstream, usage_events):
    response = await api.post(NATIVE, {"input": TEXTS, "model": "gemini-embedding-001"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["provider"], body["model"]) == ("gemini", "gemini-embedding-001")
    vectors = [fake_vector("gemini-embedding-001", t) for t in TEXTS]
    assert [d["embedding"] for d in body["data"]] == vectors
    tokens = fake_prompt_tokens(TEXTS)
    cost = (Decimal(tokens) * Decimal("0.15") / 1_000_000).quantize(Decimal("1e-10"))
    assert body["cost"] == format(cost, "f")
    [event] = usage_events
    assert (event.endpoint, event.provider, event.cost) == ("embeddings", "gemini", cost)


async def test_native_provider_slash_model_and_provider_field(api, live_upstream):
    slash = await api.post(NATIVE, {"input": "x", "model": "openai/text-embedding-3-large"})
    assert slash.json()["model"] == "text-embedding-3-large"
    default = await api.post(NATIVE, {"input": "x", "provider": "openai"})
    assert (default.json()["provider"], default.json()["model"]) == ("openai", SMALL)


async def test_default_provider_without_embeddings_uses_the_next(api, live_upstream, settings):
    settings.AI_DEFAULT_PROVIDER = "anthropic"
    settings.AI_DEFAULT_MODEL = None
    response = await api.post(NATIVE, {"input": "x"})
    assert (response.json()["provider"], response.json()["model"]) == ("openai", SMALL)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({}, "input", "This field is required."),
        ({"input": 3}, "input", "Must be a string or an array of strings."),
        ({"input": []}, "input", "Must contain at least one string."),
        ({"input": ["a", ""]}, "input", "Must not be an empty string (item 1)."),
        ({"input": [1, 2, 3]}, "input", "Token arrays are not supported"),
        ({"input": [[1, 2]]}, "input", "Token arrays are not supported"),
        ({"input": ["a", 3]}, "input[1]", "Must be a string."),
        ({"input": "x", "dimensions": 0}, "dimensions", "Must be an integer between 1"),
        ({"input": "x", "dimensions": "8"}, "dimensions", "Must be an integer between 1"),
        ({"input": "x", "model": ""}, "model", "Must be a non-empty string."),
        ({"input": "x", "provider": "nope"}, "provider", "Unknown provider 'nope'"),
        ({"input": "x", "encoding_format": "float"}, "encoding_format", "Unknown field."),
    ],
)
async def test_native_invalid_bodies_name_the_field(api, usage_events, body, field, says):
    response = await api.post(NATIVE, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(m.startswith(says) for m in error["fields"][field]), error
    assert usage_events == []


async def test_native_errors(api, live_upstream, usage_events):
    unknown = await api.post(NATIVE, {"input": "x", "model": "my-embedder"})
    assert unknown.status_code == 404
    assert "'openai/my-embedder'" in unknown.json()["error"]["message"]

    claude = await api.post(NATIVE, {"input": "x", "model": "anthropic/claude-haiku-4-5"})
    assert claude.status_code == 400
    assert claude.json()["error"]["code"] == "unsupported_parameter"

    failed = await api.post(NATIVE, {"input": "[[fake:status=500]] x", "model": SMALL})
    assert failed.status_code == 503
    assert [(e.status, e.error_code) for e in usage_events] == [
        ("error", "unsupported_parameter"),
        ("error", "upstream_unavailable"),
    ]
    assert usage_events[-1].request_id == failed["x-request-id"]


async def test_needs_authentication(anon):
    assert (await anon.post(NATIVE, {"input": "x"})).status_code == 401
    response = await anon.post(OPENAI, {"input": "x", "model": SMALL})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


# --- the OpenAI-shaped endpoint ---------------------------------------------------------------


async def test_openai_shape_float(api, live_upstream, usage_events):
    response = await api.post(OPENAI, {"input": TEXTS, "model": SMALL, "user": "u-1"})

    assert response.status_code == 200, response.content
    tokens = fake_prompt_tokens(TEXTS)
    assert response.json() == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": fake_vector(SMALL, t)}
            for i, t in enumerate(TEXTS)
        ],
        "model": SMALL,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    [event] = usage_events
    assert (event.endpoint, event.request_id) == ("openai_embeddings", response["x-request-id"])
    assert event.cost == Decimal(small_cost(tokens))
    assert event.upstream_request_id  # the upstream's x-request-id, kept in the ledger


async def test_openai_shape_base64(api, live_upstream):
    response = await api.post(
        OPENAI, {"input": "one text", "model": SMALL, "encoding_format": "base64"}
    )
    assert response.status_code == 200, response.content
    [item] = response.json()["data"]
    decoded = array("f", base64.b64decode(item["embedding"])).tolist()
    assert decoded == fake_vector(SMALL, "one text")


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"input": "x"}, 400, "model", "invalid_request"),
        ({"input": [1, 2], "model": SMALL}, 400, "input", "invalid_request"),
        ({"input": "x", "model": SMALL, "encoding_format": "hex"}, 400, "encoding_format", None),
        ({"input": "x", "model": SMALL, "extra": 1}, 400, "extra", "invalid_request"),
        ({"input": "x", "model": "my-embedder"}, 404, None, "model_not_found"),
        ({"input": "x", "model": "anthropic/claude-haiku-4-5"}, 400, None, None),
    ],
)
async def test_openai_errors_in_openais_shape(api, live_upstream, body, status, param, code):
    response = await api.post(OPENAI, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param
    if code:
        assert error["code"] == code


# --- API keys and rate limits -----------------------------------------------------------------


async def test_key_allowed_models_apply_to_embedding_models(user, live_upstream, usage_events):
    from ai.models import ApiKey
    from tests.api.conftest import ApiClient

    _, full_key = await sync_to_async(ApiKey.issue)(user, "narrow", allowed_models=[SMALL])
    client = ApiClient(full_key)

    allowed = await client.post(OPENAI, {"input": "x", "model": SMALL})
    assert allowed.status_code == 200, allowed.content
    refused = await client.post(OPENAI, {"input": "x", "model": "text-embedding-3-large"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("permission_error", "model_not_allowed")
    assert "text-embedding-3-large" in error["message"]
    native = await client.post(NATIVE, {"input": "x", "model": "text-embedding-3-large"})
    assert native.status_code == 403
    # Refused before any upstream call.
    assert len(live_upstream.requests) == 1
    assert [e.status for e in usage_events] == ["ok", "error", "error"]
    assert all(e.api_key_id is not None for e in usage_events)


async def test_rate_limits_count_embeddings(api, settings, usage_events):
    from ai import governance

    governance.reset()  # this process's counts start from zero
    settings.AI_DEFAULT_RPM = 3
    settings.AI_DEFAULT_TPM = 1000
    first = await api.post(NATIVE, {"input": TEXTS})
    assert first.status_code == 200
    assert first["x-ratelimit-remaining-requests"] == "2"
    # Tokens: the estimate is taken, then corrected to the real usage (8 tokens, no completion).
    assert first["x-ratelimit-limit-tokens"] == "1000"
    await api.post(CHAT, {"prompt": "hello"})
    second = await api.post(OPENAI, {"input": "x", "model": "offline-embed"})
    assert second.status_code == 200
    assert second["x-ratelimit-remaining-requests"] == "0"

    refused = await api.post(NATIVE, {"input": "one too many"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "Retry-After" in refused
    assert usage_events[-1].endpoint == "embeddings"
    assert usage_events[-1].error_code == "rate_limit_exceeded"


async def test_budgets_reserve_and_settle_embeddings(user, live_upstream, usage_events):
    import time

    from ai import governance
    from ai.governance.budgets import period, to_nano
    from ai.models import ApiKey
    from tests.api.conftest import ApiClient

    governance.reset()
    # 6000 bytes bound the prompt to about 6000 tokens: 120,000 nano-USD at 0.02 USD/M, over a
    # budget of 0.0001 USD (100,000 nano-USD).
    _, poor = await sync_to_async(ApiKey.issue)(user, "poor", daily_budget_usd=Decimal("0.0001"))
    refused = await ApiClient(poor).post(NATIVE, {"input": "x " * 3000, "model": SMALL})
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert live_upstream.requests == []

    key, enough = await sync_to_async(ApiKey.issue)(user, "one", daily_budget_usd=Decimal("1"))
    ok = await ApiClient(enough).post(NATIVE, {"input": "x " * 3000, "model": SMALL})
    assert ok.status_code == 200, ok.content
    # Settled: the reservation is gone, the real cost is spent.
    suffix, _ = period("daily", time.time())
    await governance.get_store().drain()  # settlements go in the background on Redis
    spent, reserved = await governance.get_store().read_budget(
        f"ai:gov:spend:key:{key.pk}:{suffix}"
    )
    assert reserved == 0
    assert spent >= to_nano(usage_events[-1].cost) > 0  # (a shared Redis may hold older spend)
    governance.reset()
