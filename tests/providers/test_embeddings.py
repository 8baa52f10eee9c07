"""Embeddings on each provider: OpenAI and Gemini through their SDKs against the fake upstream
over real HTTP (both transports; Gemini on both wires, raw and typed), the offline provider's
deterministic vectors, and a provider without embeddings refusing with a 400 before any call."""

from __future__ import annotations

import base64
import math
from array import array

import pytest

from ai.exceptions import (
    ModelNotFoundError,
    RateLimitedError,
    UnsupportedParameterError,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from ai.providers._gemini_embed import EMBED_BATCH
from ai.providers.base import USAGE_ESTIMATED, USAGE_REPORTED
from ai.providers.gemini import GeminiProvider
from ai.providers.offline import EMBED_MODEL, EMBEDDING_DIMENSIONS, OfflineProvider, embedding
from ai.providers.openai import _vector
from tests.fake_upstream import fake_prompt_tokens
from tests.fake_upstream.server import BAD_KEY
from tests.fake_upstream.vectors import fake_vector
from tests.providers.conftest import assert_no_secret, open_provider

KEY = "sk-test-openai"
TEXTS = ["The cat sat on the mat.", "A second, longer text about dogs and parks."]


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


# --- OpenAI (and so every OpenAI-compatible provider) ------------------------------------------


@pytest.fixture
async def openai_provider(upstream_settings, transport):
    async with open_provider("openai") as provider:
        yield provider


async def test_openai_vectors_usage_and_wire(openai_provider, fake_upstream):
    response = await openai_provider.embed(TEXTS)

    assert response.provider == "openai"
    assert response.model == response.requested_model == "text-embedding-3-small"
    assert response.vectors == [fake_vector("text-embedding-3-small", t) for t in TEXTS]
    assert [len(v) for v in response.vectors] == [1536, 1536]
    tokens = fake_prompt_tokens(TEXTS)
    assert response.usage.as_dict() == {
        "prompt_tokens": tokens,
        "completion_tokens": 0,
        "total_tokens": tokens,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cache_write_tokens": 0,
        "source": USAGE_REPORTED,
    }
    assert response.latency_ms > 0
    [sent] = fake_upstream.requests
    assert (sent.method, sent.path) == ("POST", "/v1/embeddings")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    # Floats: what every OpenAI-compatible server speaks; no dimensions unless asked.
    assert sent.body == {
        "model": "text-embedding-3-small",
        "input": TEXTS,
        "encoding_format": "float",
    }


async def test_openai_dimensions_and_model(openai_provider, fake_upstream):
    response = await openai_provider.embed(["short"], "text-embedding-3-large", dimensions=256)

    assert response.model == "text-embedding-3-large"
    assert response.vectors == [fake_vector("text-embedding-3-large", "short", 256)]
    assert fake_upstream.requests[0].body["dimensions"] == 256
    assert norm(response.vectors[0]) == pytest.approx(1.0, abs=1e-6)


async def test_openai_without_reported_usage_estimates_it(openai_provider):
    text = "[[fake:no_usage=1]] " + "x" * 40
    response = await openai_provider.embed([text])

    assert response.usage.source == USAGE_ESTIMATED
    assert response.usage.prompt_tokens == math.ceil(len(text) / 4)
    assert response.usage.total_tokens == response.usage.prompt_tokens


async def test_openai_refusals_are_the_apps_errors(openai_provider):
    with pytest.raises(UpstreamBadRequestError) as refused:
        await openai_provider.embed(["x"], "text-embedding-ada-002", dimensions=8)
    assert refused.value.status_code == 400
    assert refused.value.request_id.startswith("req_")

    with pytest.raises(RateLimitedError) as limited:
        await openai_provider.embed(["[[fake:status=429 retry_after=3]]"])
    assert limited.value.retry_after == 3


async def test_openai_bad_key_keeps_the_key_out(upstream_settings, transport):
    upstream_settings.OPENAI_API_KEY = BAD_KEY
    async with open_provider("openai") as provider:
        with pytest.raises(UpstreamAuthenticationError) as failed:
            await provider.embed(["x"])
    assert_no_secret(failed.value, BAD_KEY)


async def test_openai_drop_and_deadline(openai_provider, upstream_settings):
    with pytest.raises(UpstreamConnectionError):
        await openai_provider.embed(["[[fake:drop_after=0]]"])
    upstream_settings.AI_FIRST_BYTE_TIMEOUT = 0.2
    with pytest.raises(UpstreamTimeoutError):
        await openai_provider.embed(["[[fake:delay=1]]"])


def test_a_base64_answer_is_read_as_little_endian_float32():
    values = [0.25, -1.5, 3.0]
    encoded = base64.b64encode(array("f", values).tobytes()).decode()
    assert _vector(encoded) == values
    with pytest.raises(TypeError):
        _vector({"not": "a vector"})


# --- Gemini ---------------------------------------------------------------------------------

GEMINI_MODEL = "gemini-embedding-001"


@pytest.fixture(params=["raw", "typed"])
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(GeminiProvider, "wire", request.param)
    return request.param


@pytest.fixture
async def gemini(upstream_settings, transport, wire):
    async with open_provider("gemini") as provider:
        yield provider


async def test_gemini_vectors_usage_and_wire(gemini, fake_upstream):
    response = await gemini.embed(TEXTS)

    assert (response.provider, response.model) == ("gemini", GEMINI_MODEL)
    assert response.vectors == [fake_vector(GEMINI_MODEL, t) for t in TEXTS]
    assert [len(v) for v in response.vectors] == [3072, 3072]
    tokens = fake_prompt_tokens(TEXTS)
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (tokens, tokens)
    assert response.usage.source == USAGE_REPORTED
    [sent] = fake_upstream.requests
    assert sent.path == f"/v1beta/models/{GEMINI_MODEL}:batchEmbedContents"
    assert sent.headers["x-goog-api-key"] == "AIza-test-google"
    # Both wires send what the SDK's models.embed_content sends.
    assert sent.body == {
        "requests": [
            {
                "content": {"parts": [{"text": text}], "role": "user"},
                "model": f"models/{GEMINI_MODEL}",
            }
            for text in TEXTS
        ]
    }


async def test_gemini_dimensions(gemini, fake_upstream):
    response = await gemini.embed(["short"], f"models/{GEMINI_MODEL}", dimensions=128)
    assert response.vectors == [fake_vector(GEMINI_MODEL, "short", 128)]
    assert fake_upstream.requests[0].body["requests"][0]["outputDimensionality"] == 128


async def test_gemini_splits_large_inputs_into_batches(gemini, fake_upstream):
    texts = [f"text number {i}" for i in range(2 * EMBED_BATCH + 5)]
    response = await gemini.embed(texts)

    assert response.vectors == [fake_vector(GEMINI_MODEL, t) for t in texts]
    sizes = sorted(len(r.body["requests"]) for r in fake_upstream.requests)
    assert sizes == [5, EMBED_BATCH, EMBED_BATCH]
    assert response.usage.prompt_tokens == fake_prompt_tokens(texts)


async def test_gemini_failing_batch_fails_the_call(gemini):
    texts = ["fine"] * EMBED_BATCH + ["[[fake:status=429 retry_delay=7]]"]
    with pytest.raises(RateLimitedError) as failed:
        await gemini.embed(texts)
    assert failed.value.retry_after == 7


async def test_gemini_without_usage_estimates_it(gemini):
    text = "[[fake:no_usage=1]] some words here"
    response = await gemini.embed([text])
    assert response.usage.source == USAGE_ESTIMATED
    assert response.usage.prompt_tokens == math.ceil(len(text) / 4)


async def test_gemini_chat_model_is_not_found(gemini):
    with pytest.raises(ModelNotFoundError):
        await gemini.embed(["x"], "gemini-2.5-flash")


async def test_gemini_bad_key(upstream_settings, transport, wire):
    upstream_settings.GOOGLE_API_KEY = BAD_KEY
    async with open_provider("gemini") as provider:
        with pytest.raises(UpstreamAuthenticationError) as failed:
            await provider.embed(["x"])
    assert_no_secret(failed.value, BAD_KEY)


# --- offline --------------------------------------------------------------------------------


async def test_offline_vectors_are_deterministic_unit_vectors(settings):
    settings.AI_OFFLINE_ENABLED = True
    provider = OfflineProvider()

    first = await provider.embed(TEXTS, "whatever-model")
    again = await OfflineProvider().embed(TEXTS)

    assert first.vectors == again.vectors
    assert first.model == EMBED_MODEL and first.requested_model == "whatever-model"
    assert [len(v) for v in first.vectors] == [EMBEDDING_DIMENSIONS] * 2
    for vector in first.vectors:
        assert norm(vector) == pytest.approx(1.0)
    assert first.usage.prompt_tokens == 6 + 8  # words
    assert first.vectors[0] == embedding(TEXTS[0])
    # Fixed values: a change to the algorithm would change every host's stored vectors.
    assert [round(v, 6) for v in embedding("hello world", 4)] == [
        round(v, 6) for v in embedding("Hello, world!", 4)
    ]


async def test_offline_dimensions_and_similarity():
    provider = OfflineProvider()
    response = await provider.embed(
        ["the cat sat on the mat", "the cat sat on a mat today", "stock prices fell sharply"],
        dimensions=64,
    )
    cat, cat_again, stocks = response.vectors
    assert len(cat) == 64 and norm(cat) == pytest.approx(1.0)
    assert cosine(cat, cat_again) > cosine(cat, stocks)


# --- a provider without embeddings ------------------------------------------------------------


async def test_anthropic_has_no_embeddings(upstream_settings, fake_upstream):
    async with open_provider("anthropic") as provider:
        with pytest.raises(UnsupportedParameterError) as refused:
            await provider.embed(["x"])
    assert refused.value.status_code == 400
    assert refused.value.param == "model"
    assert fake_upstream.requests == []
