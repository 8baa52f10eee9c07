"""``client.embeddings.create`` of the official openai SDK, sync and async, against the gateway
under its real ASGI server, each upstream's real SDK talking to the fake upstream: the SDK's
default base64 (which it decodes) and floats, ``dimensions``, the offline provider, the
exception class of each refusal, and one ledger row per call with its tokens and cost."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest
from asgiref.sync import sync_to_async

from ai.models import ApiKey
from ai.providers.offline import EMBED_MODEL, embedding
from tests.e2e.conftest import ledger_rows
from tests.fake_upstream import fake_prompt_tokens
from tests.fake_upstream.vectors import fake_vector

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = ["The first document, about cats.", "The second one, about dogs and parks."]
#: model asked for -> (provider, USD per million input tokens).
MODELS = {
    "text-embedding-3-small": ("openai", Decimal("0.02")),
    "text-embedding-3-large": ("openai", Decimal("0.13")),
    "gemini-embedding-001": ("gemini", Decimal("0.15")),
}


def provider_of(model: str) -> str:
    return MODELS[model][0]


def base_url(live) -> str:
    return f"{live.url}/api/v1/openai"


def async_client(live, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=api_key, base_url=base_url(live), max_retries=0, timeout=10)


@pytest.fixture
async def aclient(live, token):
    async with async_client(live, token) as client:
        yield client


def cost(tokens: int, per_million: Decimal) -> Decimal:
    return (tokens * per_million / 1_000_000).quantize(Decimal("1e-10"))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("encoding", ["base64", "float"])
async def test_async_create(aclient, fake_upstream, model, encoding):
    kwargs = {} if encoding == "base64" else {"encoding_format": "float"}
    raw = await aclient.embeddings.with_raw_response.create(model=model, input=TEXTS, **kwargs)
    result = raw.parse()

    # The SDK asks base64 unless told otherwise, and decodes it to the same floats.
    wire = raw.http_response.json()["data"][0]["embedding"]
    assert isinstance(wire, str if encoding == "base64" else list)
    if provider_of(model) == "openai":
        sent = fake_upstream.requests[0].body
        assert sent["encoding_format"] == "float"  # the gateway asks its upstream for floats
    assert result.model == model
    assert [d.index for d in result.data] == [0, 1]
    assert [d.embedding for d in result.data] == [fake_vector(model, t) for t in TEXTS]
    tokens = fake_prompt_tokens(TEXTS)
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (tokens, tokens)

    provider, price = MODELS[model]
    [row] = await ledger_rows(1)
    assert row.request_id == raw.headers["x-request-id"]
    assert (row.endpoint, row.status, row.provider, row.model) == (
        "openai_embeddings",
        "ok",
        provider,
        model,
    )
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (tokens, 0, tokens)
    assert row.cost == cost(tokens, price)


async def test_sync_create_with_dimensions_and_one_string(live, token):
    def run():
        with openai.OpenAI(
            api_key=token, base_url=base_url(live), max_retries=0, timeout=10
        ) as client:
            return client.embeddings.create(
                model="text-embedding-3-large", input="one text", dimensions=256
            )

    result = await asyncio.to_thread(run)
    [item] = result.data
    assert item.embedding == fake_vector("text-embedding-3-large", "one text", 256)
    [row] = await ledger_rows(1)
    assert row.status == "ok" and row.prompt_tokens == 2


async def test_offline_model(aclient):
    result = await aclient.embeddings.create(model=EMBED_MODEL, input=TEXTS, dimensions=16)
    assert result.model == EMBED_MODEL
    # float32 on the wire (base64): the offline floats to float32 precision.
    for item, text in zip(result.data, TEXTS, strict=True):
        assert item.embedding == pytest.approx(embedding(text, 16), abs=1e-7)
    [row] = await ledger_rows(1)
    assert (row.provider, row.cost) == ("offline", Decimal(0))


# --- refusals -------------------------------------------------------------------------------


async def test_token_arrays_are_a_bad_request_naming_input(aclient):
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]])
    assert (caught.value.param, caught.value.code) == ("input", "invalid_request")


async def test_unknown_model_is_not_found(aclient):
    with pytest.raises(openai.NotFoundError) as caught:
        await aclient.embeddings.create(model="my-embedder", input="x")
    assert caught.value.code == "model_not_found"


async def test_a_chat_only_provider_is_a_bad_request(aclient):
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.embeddings.create(model="claude-sonnet-4-5", input="x")
    assert caught.value.code == "unsupported_parameter"


async def test_a_key_allows_only_its_embedding_model(live, user):
    _, full_key = await sync_to_async(ApiKey.issue)(
        user, "small only", allowed_models=["text-embedding-3-small"]
    )
    async with async_client(live, full_key) as client:
        await client.embeddings.create(model="text-embedding-3-small", input="x")
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await client.embeddings.create(model="text-embedding-3-large", input="x")
    assert caught.value.code == "model_not_allowed"
    found = await ledger_rows(2)
    assert [row.status for row in found] == ["ok", "error"]
    assert found[1].error_code == "model_not_allowed"


async def test_the_gateways_rate_limit_counts_embeddings(live, user):
    _, full_key = await sync_to_async(ApiKey.issue)(user, "one a minute", rpm=1)
    async with async_client(live, full_key) as client:
        await client.embeddings.create(model="text-embedding-3-small", input="x")
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("directive", "error"),
    [("status=429", openai.RateLimitError), ("status=503", openai.InternalServerError)],
)
async def test_upstream_failures(aclient, directive, error):
    with pytest.raises(error) as caught:
        await aclient.embeddings.create(
            model="text-embedding-3-small", input=f"[[fake:{directive}]]"
        )
    [row] = await ledger_rows(1)
    assert row.status == "error"
    assert row.request_id == caught.value.response.headers["x-request-id"]
