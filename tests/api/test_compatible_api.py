"""OpenAI-compatible providers through the HTTP API: addressed as ``<name>/<model>`` (native
``provider`` + ``model``, the OpenAI and Anthropic surfaces), listed in the status endpoint and
/models, recorded in the ledger under their own name; served by the fake upstream's OpenAI wire."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from ai.services import factory
from tests.api.conftest import CHAT, OPENAI_CHAT, ROUTED, STATUS
from tests.api.sse_client import parse_sse
from tests.fake_upstream.compatible import CompatibleFakeUpstream

pytestmark = pytest.mark.django_db(transaction=True)

OPENAI_MODELS = "/api/v1/openai/models"
NATIVE_EMBEDDINGS = "/api/v1/app/ai/embeddings"
OPENAI_EMBEDDINGS = "/api/v1/openai/embeddings"
ANTHROPIC_MESSAGES = "/api/v1/anthropic/v1/messages"
GROQ_KEY = "gsk-test-groq-api-0123456789"


@pytest.fixture
async def groq(fake_upstream, settings):
    """groq (a key) and ollama (none) on the fake's OpenAI wire; the offline default stays."""
    settings.AI_PROVIDERS = {
        "groq": {
            "base_url": fake_upstream.openai_base_url,
            "api_key": GROQ_KEY,
            "models": ["llama-x", "llama-y"],
            "embedding_model": "embed-x",
        },
        "ollama": {"base_url": fake_upstream.openai_base_url, "models": ["llama3.2"]},
    }
    settings.AI_MAX_RETRIES = 0
    settings.AI_REQUEST_TIMEOUT = 5.0
    factory.clear_llm_cache()
    yield fake_upstream
    await factory.aclose_providers()
    factory.clear_llm_cache()


async def test_native_chat_with_provider_and_model(api, groq, usage_events):
    response = await api.post(CHAT, {"prompt": "hi", "provider": "groq", "model": "llama-x"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["provider"], body["model"]) == ("groq", "llama-x")
    assert body["content"].startswith("Hello from the fake openai")
    assert groq.requests[-1].headers["Authorization"] == f"Bearer {GROQ_KEY}"
    [event] = usage_events
    assert (event.provider, event.model, event.status) == ("groq", "llama-x", "ok")


async def test_native_chat_with_a_declared_model_alone(api, groq, usage_events):
    body = (await api.post(CHAT, {"prompt": "hi", "model": "llama3.2"})).json()
    assert (body["provider"], body["model"]) == ("ollama", "llama3.2")


async def test_native_stream(api, groq, usage_events):
    response = await api.post(
        ROUTED, {"prompt": "hi", "provider": "groq", "model": "llama-y", "stream": True}
    )
    assert response.status_code == 200
    frames = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    done = next(f.json() for f in frames if f.data.startswith('{"type":"done"'))
    assert (done["provider"], done["model"]) == ("groq", "llama-y")
    [event] = usage_events
    assert (event.provider, event.streamed) == ("groq", True)


async def test_openai_surface_with_provider_slash_model(api, groq, usage_events):
    body = {"model": "groq/llama-x", "messages": [{"role": "user", "content": "hi"}]}
    response = await api.post(OPENAI_CHAT, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["model"] == "llama-x"
    assert answer["choices"][0]["message"]["content"].startswith("Hello from the fake openai")
    assert groq.requests[-1].body["model"] == "llama-x"
    [event] = usage_events
    assert (event.provider, event.model) == ("groq", "llama-x")


async def test_openai_surface_stream_and_tools(api, groq, usage_events):
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    body = {
        "model": "groq/llama-x",
        "messages": [{"role": "user", "content": "find it"}],
        "tools": [tool],
        "stream": True,
    }
    response = await api.post(OPENAI_CHAT, body)
    assert response.status_code == 200
    raw = b"".join([chunk async for chunk in response.streaming_content])
    chunks = [orjson.loads(f.data) for f in parse_sse(raw) if f.data != "[DONE]"]
    calls = [
        call
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls") or []
    ]
    assert calls[0]["function"]["name"] == "lookup"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert "tool_calls" in finishes
    assert groq.requests[-1].body["tools"][0]["function"]["name"] == "lookup"
    [event] = usage_events
    assert event.provider == "groq"


async def test_anthropic_surface_with_provider_slash_model(api, groq, token, usage_events):
    body = {
        "model": "groq/llama-x",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = await api.client.post(
        ANTHROPIC_MESSAGES,
        body,
        content_type="application/json",
        headers={"x-api-key": token, "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["model"] == "llama-x"
    assert answer["content"][0]["text"].startswith("Hello from the fake openai")
    [event] = usage_events
    assert event.provider == "groq"


async def test_models_and_status_list_them(api, groq):
    models = {m["id"]: m["owned_by"] for m in (await api.get(OPENAI_MODELS)).json()["data"]}
    assert models["groq/llama-x"] == models["groq/llama-y"] == "groq"
    assert models["ollama/llama3.2"] == "ollama"
    status = (await api.get(STATUS)).json()
    assert status["providers"] == ["offline", "groq", "ollama"]
    assert GROQ_KEY not in str(status) and groq.openai_base_url not in str(status)


async def test_unknown_provider_in_the_model_is_a_404(api, groq):
    body = {"model": "mistral/large", "messages": [{"role": "user", "content": "hi"}]}
    response = await api.post(OPENAI_CHAT, body)
    assert response.status_code == 404


async def test_an_unpriced_model_costs_nothing_known_and_logs_no_error(
    api, groq, usage_events, caplog
):
    """A keyless (local) compatible provider's model with no price costs 0; a keyed vendor's
    unpriced model is "price unknown" (null), not silently free. No error is logged."""
    response = await api.post(CHAT, {"prompt": "hi", "provider": "ollama"})
    assert response.status_code == 200
    [event] = usage_events
    assert event.provider == "ollama"
    assert event.cost == Decimal(0)
    response = await api.post(CHAT, {"prompt": "hi", "provider": "groq", "model": "llama-x"})
    assert response.status_code == 200
    assert usage_events[-1].cost is None
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_embeddings_on_both_surfaces(api, groq, usage_events):
    native = await api.post(NATIVE_EMBEDDINGS, {"input": ["a b", "c"], "provider": "groq"})
    assert native.status_code == 200, native.content
    assert (native.json()["provider"], native.json()["model"]) == ("groq", "embed-x")
    assert len(native.json()["data"]) == 2
    body = {"input": "one text", "model": "groq/embed-x"}
    openai_shape = await api.post(OPENAI_EMBEDDINGS, body)
    assert openai_shape.status_code == 200, openai_shape.content
    assert openai_shape.json()["model"] == "embed-x"
    # A declared embedding model alone belongs to its provider.
    bare = await api.post(OPENAI_EMBEDDINGS, {"input": "one text", "model": "embed-x"})
    assert bare.status_code == 200, bare.content
    assert [e.provider for e in usage_events] == ["groq", "groq", "groq"]
    assert groq.requests[-1].path == "/v1/embeddings"
    assert groq.requests[-1].headers["Authorization"] == f"Bearer {GROQ_KEY}"


async def test_a_provider_declaring_no_model_asks_for_one(api, groq, settings, usage_events):
    settings.AI_PROVIDERS = {"openrouter": {"base_url": groq.openai_base_url, "api_key": "k-1"}}
    factory.clear_llm_cache()
    response = await api.post(CHAT, {"prompt": "hi", "provider": "openrouter"})
    assert response.status_code == 400
    assert "openrouter/<model>" in response.json()["error"]["message"]
    assert groq.requests == []
    named = await api.post(CHAT, {"prompt": "hi", "provider": "openrouter", "model": "a/b"})
    assert named.status_code == 200, named.content
    assert groq.requests[-1].body["model"] == "a/b"


@pytest.fixture(scope="module")
def perplexity_upstream():
    server = CompatibleFakeUpstream().start_in_thread()
    yield server
    server.stop_thread()


async def test_the_search_route_asks_perplexity_first(
    api, perplexity_upstream, settings, usage_events
):
    perplexity_upstream.reset()
    settings.AI_PROVIDERS = {
        "perplexity": {
            "base_url": perplexity_upstream.perplexity_base_url,
            "api_key": "pplx-test-key",
            "models": ["sonar", "sonar-pro"],
        }
    }
    settings.AI_MAX_RETRIES = 0
    factory.clear_llm_cache()
    try:
        response = await api.post(ROUTED, {"prompt": "latest news?", "complexity": "search"})
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["provider"], body["model"]) == ("perplexity", "sonar")
        assert response["x-ai-route"].startswith("complexity=search; perplexity/sonar=ok")
        assert perplexity_upstream.requests[-1].path == "/perplexity/chat/completions"
        [event] = usage_events
        assert (event.provider, event.complexity) == ("perplexity", "search")
        status = (await api.get(STATUS)).json()
        assert status["routes"]["search"][0] == {
            "provider": "perplexity",
            "model": "sonar",
            "configured": True,
        }
    finally:
        await factory.aclose_providers()
