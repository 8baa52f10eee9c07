"""OpenAI-compatible providers (ai/providers/compatible.py, ai/services/compatible.py): declared
in settings or the environment, served through the openai SDK against the fake upstream's OpenAI
wire (any key but BAD_KEY) and its Perplexity-like route."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ai.checks import check_ai_settings, check_compatible_providers
from ai.exceptions import (
    UnknownProviderError,
    UnsupportedParameterError,
    UpstreamAuthenticationError,
    UpstreamConnectionError,
)
from ai.providers.base import Message, ModelComplexity, Role
from ai.providers.compatible import PLACEHOLDER_KEY, CompatibleProvider
from ai.providers.openai import OpenAIProvider
from ai.providers.parts import ChatOptions, Tool
from ai.services import clear_llm_cache, get_available_providers, get_llm_provider
from ai.services.compatible import FREE, declared_price
from ai.services.factory import is_configured, provider_names
from ai.services.router import LLMRouter, default_model_for, provider_for_model
from ai.services.routes import ModelRoute, default_route_targets
from tests.fake_upstream.compatible import CITATIONS, CompatibleFakeUpstream
from tests.fake_upstream.server import BAD_KEY
from tests.providers.conftest import assert_no_secret, closed_port_url, open_provider

GROQ_KEY = "gsk-test-groq-0123456789"
WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(scope="module")
def compatible_upstream():
    server = CompatibleFakeUpstream().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def declared(compatible_upstream, settings, transport):
    """groq (hosted, with a key) and ollama (local, no key) on the fake's OpenAI wire, and
    perplexity on its Perplexity-like route; the real OpenAI key set, to prove it never leaks."""
    compatible_upstream.reset()
    settings.OPENAI_API_KEY = "sk-test-real-openai"
    settings.AI_REQUEST_TIMEOUT = 5.0
    settings.AI_PROVIDERS = {
        "groq": {
            "base_url": compatible_upstream.openai_base_url,
            "api_key": GROQ_KEY,
            "models": ["llama-x", "gpt-oss-20b"],
            "embedding_model": "embed-x",
        },
        "ollama": {"base_url": compatible_upstream.openai_base_url, "models": ["llama3.2"]},
        "perplexity": {
            "base_url": compatible_upstream.perplexity_base_url,
            "api_key": "pplx-test",
            "models": ["sonar", "sonar-pro"],
            "supports": ["top_p"],
        },
    }
    clear_llm_cache()
    yield compatible_upstream
    clear_llm_cache()


def _auth(upstream) -> str:
    return upstream.requests[-1].headers["Authorization"]


async def test_complete_goes_to_the_declared_base_url_with_its_key(declared):
    async with open_provider("groq") as provider:
        response = await provider.complete([Message(Role.USER, "hi")], "llama-x")
    assert isinstance(provider, CompatibleProvider) and isinstance(provider, OpenAIProvider)
    assert response.provider == "groq"
    assert response.model == "llama-x"
    assert response.content == "Hello from the fake openai"
    assert response.usage.prompt_tokens == 1
    captured = declared.requests[-1]
    assert captured.path == "/v1/chat/completions"
    assert captured.body["model"] == "llama-x"
    assert _auth(declared) == f"Bearer {GROQ_KEY}"


async def test_a_provider_without_key_sends_a_placeholder_never_openais(declared):
    async with open_provider("ollama") as provider:
        response = await provider.complete([Message(Role.USER, "hi")])
    assert response.provider == "ollama"
    assert response.model == "llama3.2"  # its first model is its default
    assert _auth(declared) == f"Bearer {PLACEHOLDER_KEY}"


async def test_stream(declared):
    async with open_provider("groq") as provider:
        stream = provider.stream([Message(Role.USER, "hi")], "llama-x")
        deltas = [d async for d in stream]
    assert "".join(deltas) == "Hello from the fake openai"
    response = stream.response
    assert response.provider == "groq"
    assert response.usage.source == "reported"
    assert declared.requests[-1].body["stream"] is True


async def test_tools_whole_and_streamed(declared):
    options = ChatOptions(tools=(WEATHER,))
    messages = [Message(Role.USER, "weather in Paris?")]
    async with open_provider("groq") as provider:
        response = await provider.complete(messages, "llama-x", options=options)
        stream = provider.stream(messages, "llama-x", options=options)
        async for _ in stream:
            pass
    assert [c.name for c in response.tool_calls] == ["get_weather"]
    assert response.finish_reason == "tool_calls"
    assert [c.name for c in stream.tool_calls] == ["get_weather"]
    assert declared.requests[-1].body["tools"][0]["function"]["name"] == "get_weather"


async def test_embeddings(declared):
    async with open_provider("groq") as provider:
        response = await provider.embed(["one", "two words"])
    assert (response.provider, response.model) == ("groq", "embed-x")
    assert len(response.vectors) == 2
    assert response.usage.prompt_tokens > 0
    assert declared.requests[-1].path == "/v1/embeddings"
    assert _auth(declared) == f"Bearer {GROQ_KEY}"
    # Without an embedding model declared, a call must name one.
    async with open_provider("ollama") as provider:
        with pytest.raises(UnsupportedParameterError):
            await provider.embed(["one"])
        named = await provider.embed(["one"], "nomic-embed-text")
    assert named.provider == "ollama"


async def test_supports_limits_the_options(declared):
    async with open_provider("perplexity") as provider:
        with pytest.raises(UnsupportedParameterError) as info:
            await provider.complete(
                [Message(Role.USER, "hi")], options=ChatOptions(tools=(WEATHER,))
            )
    assert info.value.param == "tools"
    assert "perplexity" in info.value.message
    assert declared.requests == []


async def test_a_declared_vendor_still_gets_reasoning_effort(declared):
    # Before the gateway knew reasoning_effort it went through as an unknown field, and a
    # declaration's supports could not name it: it still goes through.
    async with open_provider("perplexity") as provider:
        await provider.complete(
            [Message(Role.USER, "hi")], options=ChatOptions(reasoning_effort="low")
        )
    assert declared.requests[-1].body["reasoning_effort"] == "low"


async def test_errors_name_the_provider_and_redact_its_key(declared, settings):
    settings.AI_PROVIDERS = {
        "groq": {"base_url": declared.openai_base_url, "api_key": BAD_KEY, "models": ["m"]}
    }
    clear_llm_cache()
    async with open_provider("groq") as provider:
        with pytest.raises(UpstreamAuthenticationError) as info:
            await provider.complete([Message(Role.USER, "hi")], "m")
    err = info.value
    assert err.provider == "groq"
    assert "groq" in err.message and "OpenAI" not in err.message
    assert_no_secret(err, BAD_KEY)


async def test_connection_error_names_the_provider(declared, settings):
    settings.AI_PROVIDERS = {"local": {"base_url": closed_port_url("/v1"), "models": ["m"]}}
    settings.AI_MAX_RETRIES = 0
    clear_llm_cache()
    async with open_provider("local") as provider:
        with pytest.raises(UpstreamConnectionError) as info:
            await provider.complete([Message(Role.USER, "hi")], "m")
        with pytest.raises(UpstreamConnectionError) as streamed:
            await provider.stream([Message(Role.USER, "hi")], "m").start()
    for err in (info.value, streamed.value):
        assert err.provider == "local"
        assert "OpenAI" not in err.message


async def test_perplexity_citations_whole_and_streamed(declared):
    async with open_provider("perplexity") as provider:
        response = await provider.complete([Message(Role.USER, "news?")], "sonar")
        stream = provider.stream([Message(Role.USER, "news?")], "sonar")
        text = "".join([d async for d in stream])
    assert response.citations == tuple(CITATIONS)
    assert text.startswith("Hello from the fake")
    assert stream.citations == stream.response.citations == tuple(CITATIONS)
    assert stream.response.usage.prompt_tokens == 1
    assert declared.requests[-1].path == "/perplexity/chat/completions"


def test_citations_read_from_search_results_when_no_citations():
    data = {"search_results": [{"url": "https://a.example"}, {"title": "no url"}, "junk"]}
    assert CompatibleProvider._citations(data) == ("https://a.example",)
    assert CompatibleProvider._citations({"citations": "not a list"}) == ()
    assert CompatibleProvider._citations({}) == ()


# -- declarations ------------------------------------------------------------------------------


def test_names_configuration_and_default_models(declared):
    assert provider_names()[-3:] == ["groq", "ollama", "perplexity"]
    assert get_available_providers() == ["openai", "offline", "groq", "ollama", "perplexity"]
    assert default_model_for("groq") == "llama-x"
    # A declared model belongs to its provider, even with another vendor's prefix.
    assert provider_for_model("gpt-oss-20b") == "groq"
    assert provider_for_model("llama3.2") == "ollama"
    assert provider_for_model("gpt-4o") == "openai"
    assert provider_for_model("unknown-model") is None


def test_declared_by_environment_variables(monkeypatch, settings):
    monkeypatch.setenv("AI_PROVIDER_LM_STUDIO_BASE_URL", "http://127.0.0.1:1234/v1")
    monkeypatch.setenv("AI_PROVIDER_LM_STUDIO_MODELS", "qwen2.5, phi-4")
    monkeypatch.setenv("AI_PROVIDER_TOGETHER_API_KEY", "tok-123456")
    monkeypatch.setenv("AI_PROVIDER_TOGETHER_DEFAULT_MODEL", "mixtral")
    monkeypatch.setenv("AI_PROVIDER_TOGETHER_EMBEDDING_MODEL", "bge")
    settings.AI_PROVIDERS = {"together": {"base_url": "https://api.together.xyz/v1"}}
    clear_llm_cache()
    try:
        assert {"lm_studio", "together"} <= set(provider_names())
        assert is_configured("lm_studio") and is_configured("together")
        studio = get_llm_provider("lm_studio")
        assert studio.default_model == "qwen2.5"
        assert studio.api_key() == PLACEHOLDER_KEY
        # The setting's fields and the environment's key, merged.
        together = get_llm_provider("together")
        assert together.api_key() == "tok-123456"
        assert together.base_url() == "https://api.together.xyz/v1"
        assert (together.default_model, together.default_embedding_model) == ("mixtral", "bge")
        assert provider_for_model("bge") == "together"
    finally:
        monkeypatch.delenv("AI_PROVIDER_LM_STUDIO_BASE_URL")
        clear_llm_cache()
    # Read again after clear_llm_cache(): models but no base URL is declared, not configured.
    assert not is_configured("lm_studio")
    assert "lm_studio" not in get_available_providers()


def test_a_builtin_name_is_a_check_error_and_ignored(settings):
    settings.AI_PROVIDERS = {"openai": {"base_url": "http://127.0.0.1:9/v1"}}
    clear_llm_cache()
    errors = check_compatible_providers()
    assert [e.id for e in errors] == ["ai.E051"]
    assert "openai" in errors[0].msg
    assert provider_names().count("openai") == 1
    settings.OPENAI_API_KEY = "sk-test"
    assert type(get_llm_provider("openai")) is OpenAIProvider


def test_an_invalid_declaration_is_a_check_error_and_not_configured(settings):
    settings.AI_PROVIDERS = {
        "nourl": {"models": ["m"]},
        "Bad/Name": {"base_url": "http://x/v1"},
        "typo": {"base_url": "http://x/v1", "supports": ["tools", "telepathy"], "modles": []},
    }
    clear_llm_cache()
    errors = check_compatible_providers()
    assert {e.id for e in errors} == {"ai.E050"}
    text = " ".join(e.msg for e in errors)
    assert "AI_PROVIDER_NOURL_BASE_URL" in text
    assert "'Bad/Name' is not a valid provider name" in text
    assert "telepathy" in text and "modles" in text
    assert not is_configured("nourl") and not is_configured("typo")
    with pytest.raises(ValueError, match="AI_PROVIDER_NOURL_BASE_URL"):
        get_llm_provider("nourl")


def test_default_provider_may_be_a_compatible_one(settings):
    settings.AI_PROVIDERS = {"ollama": {"base_url": "http://127.0.0.1:11434/v1", "models": ["m"]}}
    settings.AI_DEFAULT_PROVIDER = "ollama"
    clear_llm_cache()
    assert [e.id for e in check_ai_settings() if e.id == "ai.E001"] == []
    settings.AI_DEFAULT_PROVIDER = "nope"
    assert [e.id for e in check_ai_settings() if e.id == "ai.E001"] == ["ai.E001"]


def test_unknown_provider_lists_the_declared_ones(settings):
    settings.AI_PROVIDERS = {"groq": {"base_url": "http://x/v1"}}
    clear_llm_cache()
    with pytest.raises(UnknownProviderError, match="offline, groq"):
        get_llm_provider("mistral")


def test_declared_prices(settings):
    settings.AI_PROVIDERS = {
        "groq": {
            "base_url": "http://x/v1",
            "api_key": "gsk-x",
            "prices": {"llama-x": {"input": "0.59", "output": 0.79}},
        },
        "ollama": {"base_url": "http://x/v1"},
        "vllm": {"base_url": "http://x/v1", "prices": {"*": {"input": 1, "output": 2}}},
    }
    clear_llm_cache()
    assert declared_price("groq", "llama-x") == {
        "input": Decimal("0.59"),
        "output": Decimal("0.79"),
        "cached_input": None,
    }
    assert declared_price("groq", "unpriced") is None  # a hosted vendor bills: unknown
    assert declared_price("ollama", "anything") == FREE  # a local server: nothing
    assert declared_price("vllm", "any")["output"] == Decimal(2)
    assert declared_price("openai", "gpt-4o") is None


# -- SEARCH ------------------------------------------------------------------------------------


async def test_search_goes_to_perplexity_first_when_declared(settings):
    router = LLMRouter(route_source=default_route_targets)
    defaults = list(await default_route_targets(ModelComplexity.SEARCH))
    assert await router.targets(ModelComplexity.SEARCH) == defaults
    settings.AI_PROVIDERS = {"perplexity": {"base_url": "https://api.perplexity.ai"}}
    clear_llm_cache()
    assert await router.targets(ModelComplexity.SEARCH) == [
        ModelRoute("perplexity", "sonar"),
        *defaults,
    ]
    settings.AI_SEARCH_MODEL = "sonar-pro"
    assert (await router.targets(ModelComplexity.SEARCH))[0] == ModelRoute(
        "perplexity", "sonar-pro"
    )
    # Other routes are untouched.
    assert await router.targets(ModelComplexity.SIMPLE) == list(
        await default_route_targets(ModelComplexity.SIMPLE)
    )


async def test_a_search_route_naming_perplexity_is_left_as_it_is(settings):
    settings.AI_PROVIDERS = {"perplexity": {"base_url": "https://api.perplexity.ai"}}
    clear_llm_cache()
    table = [ModelRoute("openai", "gpt-4o"), ModelRoute("perplexity", "sonar-pro")]

    async def source(complexity):
        return table

    assert await LLMRouter(route_source=source).targets(ModelComplexity.SEARCH) == table


async def test_search_route_answers_from_perplexity(declared):
    router = LLMRouter(route_source=default_route_targets)
    response = await router.complete([Message(Role.USER, "news?")], ModelComplexity.SEARCH)
    assert (response.provider, response.model) == ("perplexity", "sonar")
    await get_llm_provider("perplexity").aclose()
