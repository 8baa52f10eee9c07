"""A search provider's citations (Perplexity's ``citations``) come back on every surface: the
native answer and done event, and the OpenAI-compatible completion and last chunk."""

from __future__ import annotations

import pytest

from ai.services import factory
from tests.api.conftest import CHAT, OPENAI_CHAT
from tests.api.sse_client import parse_sse
from tests.fake_upstream.compatible import CITATIONS, CompatibleFakeUpstream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def search_upstream():
    server = CompatibleFakeUpstream().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
async def perplexity(search_upstream, settings):
    settings.AI_PROVIDERS = {
        "perplexity": {
            "base_url": search_upstream.perplexity_base_url,
            "api_key": "pplx-test",
            "models": ["sonar"],
        }
    }
    settings.AI_MAX_RETRIES = 0
    factory.clear_llm_cache()
    yield search_upstream
    await factory.aclose_providers()
    factory.clear_llm_cache()


async def test_native_answer_and_stream(api, perplexity):
    ask = {"prompt": "news?", "provider": "perplexity", "model": "sonar"}
    body = (await api.post(CHAT, ask)).json()
    assert body["citations"] == CITATIONS
    response = await api.post(CHAT, {**ask, "stream": True})
    frames = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    done = next(f.json() for f in frames if f.data.startswith('{"type":"done"'))
    assert done["citations"] == CITATIONS


async def test_openai_surface(api, perplexity):
    ask = {"model": "perplexity/sonar", "messages": [{"role": "user", "content": "news?"}]}
    assert (await api.post(OPENAI_CHAT, ask)).json()["citations"] == CITATIONS
    response = await api.post(OPENAI_CHAT, {**ask, "stream": True})
    frames = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    chunks = [f.json() for f in frames if f.data != "[DONE]"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"] == CITATIONS


async def test_no_citations_no_field(api, settings):
    settings.AI_OFFLINE_ENABLED = True
    body = (await api.post(CHAT, {"prompt": "hi"})).json()
    assert "citations" not in body
