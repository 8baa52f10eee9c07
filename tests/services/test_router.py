"""The router's policy (targets, override, retries, fallbacks) with scripted providers.

The providers here are stand-ins registered under the real names; the wire-level behaviour of
the real providers is tested in tests/providers against the fake upstream.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from ai.exceptions import (
    NoRouteAvailableError,
    ProviderNotConfiguredError,
    RateLimitedError,
    UpstreamBadRequestError,
    UpstreamUnavailableError,
)
from ai.providers.base import BaseLLMProvider, FinishReason, LLMResponse, Usage
from ai.services import (
    MODEL_ROUTES,
    LLMRouter,
    ModelComplexity,
    ModelRoute,
    clear_llm_cache,
)
from ai.services.factory import PROVIDER_CLASSES

CALLS: list[tuple[str, str]] = []
SCRIPT: dict[tuple[str, str], list] = defaultdict(list)


class Scripted(BaseLLMProvider):
    """Answers from SCRIPT[(provider, model)]: exceptions are raised, strings returned."""

    default_model = "scripted-default"

    async def _complete(self, request):
        CALLS.append((self.name, request.model))
        outcomes = SCRIPT[(self.name, request.model)]
        outcome = outcomes.pop(0) if outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return LLMResponse(outcome, request.model, self.name, Usage.of(1, 1), "stop", 0.0)

    async def _stream_chunks(self, request, stream):
        CALLS.append((self.name, request.model))
        outcomes = SCRIPT[(self.name, request.model)]
        outcome = outcomes.pop(0) if outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        yield outcome
        stream.usage = Usage.of(1, 1)
        stream.finish_reason = FinishReason.STOP.value


class ScriptedOpenAI(Scripted):
    name = "openai"


class ScriptedAnthropic(Scripted):
    name = "anthropic"


class ScriptedGemini(Scripted):
    name = "gemini"


@pytest.fixture(autouse=True)
def scripted(monkeypatch, settings):
    for name, cls in (
        ("openai", ScriptedOpenAI),
        ("anthropic", ScriptedAnthropic),
        ("gemini", ScriptedGemini),
    ):
        monkeypatch.setitem(PROVIDER_CLASSES, name, f"{__name__}.{cls.__name__}")
    settings.OPENAI_API_KEY = "k1"
    settings.ANTHROPIC_API_KEY = "k2"
    settings.GOOGLE_API_KEY = "k3"
    settings.AI_OFFLINE_ENABLED = False
    settings.AI_MAX_RETRIES = 2
    settings.AI_RETRY_BACKOFF_MS = 1
    CALLS.clear()
    SCRIPT.clear()
    clear_llm_cache()
    yield
    clear_llm_cache()


def unavailable(provider="openai"):
    return UpstreamUnavailableError("down", provider=provider)


async def test_routes_follow_the_spec_table():
    router = LLMRouter()
    for complexity, expected in [
        ("simple", ("openai", "gpt-4o-mini")),
        ("moderate", ("openai", "gpt-4o")),
        ("complex", ("anthropic", "claude-sonnet-4-5-20250929")),
        ("search", ("openai", "gpt-4o")),
    ]:
        response = await router.chat("hi", complexity=ModelComplexity(complexity))
        assert (response.provider, response.model) == expected
    assert MODEL_ROUTES[ModelComplexity.COMPLEX].provider == "anthropic"


async def test_model_override_keeps_the_vendor_of_the_model():
    router = LLMRouter()
    response = await router.chat("hi", complexity=ModelComplexity.SIMPLE, model="claude-x")
    assert (response.provider, response.model) == ("anthropic", "claude-x")
    response = await router.chat("hi", complexity=ModelComplexity.COMPLEX, model="custom-model")
    assert (response.provider, response.model) == ("anthropic", "custom-model")
    response = await router.chat("hi", provider="gemini")
    assert (response.provider, response.model) == ("gemini", "scripted-default")


async def test_retryable_errors_are_retried_on_the_same_target():
    SCRIPT[("openai", "gpt-4o")] = [unavailable(), unavailable(), "third time"]
    response = await LLMRouter().chat("hi", complexity=ModelComplexity.MODERATE)
    assert response.content == "third time"
    assert CALLS == [("openai", "gpt-4o")] * 3


async def test_exhausted_target_falls_back_to_the_next():
    SCRIPT[("openai", "gpt-4o")] = [unavailable()] * 3
    response = await LLMRouter().chat("hi", complexity=ModelComplexity.MODERATE)
    assert (response.provider, response.model) == ("anthropic", "claude-sonnet-4-5-20250929")
    assert CALLS[:3] == [("openai", "gpt-4o")] * 3


async def test_client_errors_are_not_retried_nor_fallen_back():
    SCRIPT[("openai", "gpt-4o")] = [UpstreamBadRequestError("too long", provider="openai")]
    with pytest.raises(UpstreamBadRequestError):
        await LLMRouter().chat("hi", complexity=ModelComplexity.MODERATE)
    assert CALLS == [("openai", "gpt-4o")]


async def test_override_is_retried_but_never_swapped():
    SCRIPT[("openai", "gpt-4o-mini")] = [unavailable()] * 3
    with pytest.raises(UpstreamUnavailableError):
        await LLMRouter().chat("hi", model="gpt-4o-mini")
    assert CALLS == [("openai", "gpt-4o-mini")] * 3


async def test_retry_after_is_honoured_within_the_cap(settings):
    settings.AI_RETRY_MAX_WAIT_S = 0.05
    SCRIPT[("openai", "gpt-4o")] = [RateLimitedError("slow down", retry_after=0.02), "ok"]
    response = await LLMRouter().chat("hi", complexity=ModelComplexity.MODERATE)
    assert response.content == "ok"
    # Beyond the cap the target is abandoned at once for the next one.
    CALLS.clear()
    SCRIPT[("openai", "gpt-4o")] = [RateLimitedError("slow down", retry_after=60)]
    response = await LLMRouter().chat("hi", complexity=ModelComplexity.MODERATE)
    assert CALLS == [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5-20250929")]


async def test_unconfigured_providers_are_skipped(settings):
    settings.OPENAI_API_KEY = None
    response = await LLMRouter().chat("hi", complexity=ModelComplexity.SIMPLE)
    assert response.provider == "gemini"


async def test_override_to_an_unconfigured_provider_says_which_setting(settings):
    settings.OPENAI_API_KEY = None
    with pytest.raises(ProviderNotConfiguredError, match="OPENAI_API_KEY"):
        await LLMRouter().chat("hi", provider="openai")


async def test_nothing_configured_is_a_clear_error(settings):
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = settings.GOOGLE_API_KEY = None
    with pytest.raises(NoRouteAvailableError):
        await LLMRouter().chat("hi", complexity=ModelComplexity.SIMPLE)


async def test_offline_serves_when_nothing_else_is_configured(settings):
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = settings.GOOGLE_API_KEY = None
    settings.AI_OFFLINE_ENABLED = True
    response = await LLMRouter().chat("hi", complexity=ModelComplexity.SIMPLE)
    assert (response.provider, response.model) == ("offline", "offline-echo")
    assert response.requested_model == "gpt-4o-mini"


async def test_fallbacks_can_be_switched_off(settings):
    settings.AI_FALLBACKS_ENABLED = False
    SCRIPT[("openai", "gpt-4o")] = [unavailable()] * 3
    with pytest.raises(UpstreamUnavailableError):
        await LLMRouter().chat("hi", complexity=ModelComplexity.MODERATE)


async def test_stream_falls_back_before_the_first_delta():
    SCRIPT[("openai", "gpt-4o")] = [unavailable()] * 3
    stream = await LLMRouter().stream([{"role": "user", "content": "hi"}])
    assert stream.provider_name == "anthropic"
    assert [c async for c in stream] == ["ok"]


async def test_custom_route_source():
    async def source(complexity):
        return [ModelRoute("gemini", f"g-{complexity.value}")]

    response = await LLMRouter(source).chat("hi", complexity=ModelComplexity.SEARCH)
    assert (response.provider, response.model) == ("gemini", "g-search")
