"""``reasoning_effort`` on each vendor's wire, through the official SDKs against the fake
upstream: OpenAI gets the effort itself; Claude gets extended thinking and Gemini a thinking
budget from ``AI_REASONING_BUDGETS``. The fake refuses what Anthropic refuses with thinking
(``tests/fake_upstream/anthropic_thinking.py``) and reports thinking tokens, so a request sent
wrong fails here. Claude's rules are also checked before the call, each refusal naming its
parameter."""

from __future__ import annotations

import pytest

from ai.exceptions import UnsupportedParameterError
from ai.providers.base import Message, Role
from ai.providers.gemini import GeminiProvider
from ai.providers.parts import ChatOptions, ResponseFormat, Tool, ToolCall, ToolChoice
from tests.fake_upstream import anthropic_thinking
from tests.fake_upstream.scenario import reply_deltas
from tests.providers.conftest import drain, open_provider, sent

ASK = [Message(Role.USER, "Why is the sky blue?")]
CLAUDE, GEMINI, GPT = "claude-test", "gemini-2.5-flash", "o4-mini"


def effort(level: str, **more) -> ChatOptions:
    return ChatOptions(reasoning_effort=level, **more)


@pytest.fixture
async def anthropic(upstream_settings, transport):
    async with open_provider("anthropic") as provider:
        yield provider


@pytest.fixture(params=["raw", "typed"])
async def gemini(upstream_settings, transport, request, monkeypatch):
    monkeypatch.setattr(GeminiProvider, "wire", request.param)
    async with open_provider("gemini") as provider:
        yield provider


@pytest.fixture
async def openai(upstream_settings, transport):
    async with open_provider("openai") as provider:
        yield provider


# --- Claude ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_claude_thinks_within_the_budget_and_answers_without_its_thoughts(
    anthropic, fake_upstream, stream
):
    options = effort("medium")
    if stream:
        text = "".join(await drain(anthropic.stream(ASK, model=CLAUDE, options=options)))
    else:
        response = await anthropic.complete(ASK, model=CLAUDE, options=options)
        text = response.content
        usage = response.usage
        answer = len(reply_deltas("anthropic", CLAUDE, 5))
        assert usage.completion_tokens == answer + anthropic_thinking.THOUGHT_TOKENS
    assert text == "".join(reply_deltas("anthropic", CLAUDE, 5))
    assert anthropic_thinking.THOUGHT not in text
    body = sent(fake_upstream)
    # No max_tokens asked for: room for the whole budget and the usual answer.
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] == 4096 + 8192


async def test_claude_max_tokens_bounds_thinking_and_answer_together(anthropic, fake_upstream):
    await anthropic.complete(ASK, model=CLAUDE, max_tokens=3000, options=effort("high"))
    body = sent(fake_upstream)
    assert (body["max_tokens"], body["thinking"]["budget_tokens"]) == (3000, 2999)


async def test_the_budgets_are_a_setting(anthropic, fake_upstream, upstream_settings):
    upstream_settings.AI_REASONING_BUDGETS = {"low": 1500}
    await anthropic.complete(ASK, model=CLAUDE, options=effort("low"))
    assert sent(fake_upstream)["thinking"]["budget_tokens"] == 1500


async def test_claude_budgets_stay_within_the_apis_bounds(anthropic, fake_upstream, settings):
    settings.AI_REASONING_BUDGETS = {"minimal": 512, "high": 32000}
    await anthropic.complete(ASK, model=CLAUDE, options=effort("minimal"))
    assert sent(fake_upstream)["thinking"]["budget_tokens"] == 1024  # Claude's least
    # No max_tokens: room for the budget and the usual answer, at most AI_MAX_TOKENS_LIMIT.
    await anthropic.complete(ASK, model=CLAUDE, options=effort("high"))
    body = sent(fake_upstream)
    assert (body["max_tokens"], body["thinking"]["budget_tokens"]) == (32768, 32000)
    settings.AI_MAX_TOKENS_LIMIT = 30000
    await anthropic.complete(ASK, model=CLAUDE, options=effort("max"))
    body = sent(fake_upstream)
    assert (body["max_tokens"], body["thinking"]["budget_tokens"]) == (30000, 29999)


async def test_claude_effort_none_is_no_thinking(anthropic, fake_upstream):
    await anthropic.complete(ASK, model=CLAUDE, temperature=0.2, options=effort("none"))
    body = sent(fake_upstream)
    assert "thinking" not in body
    assert (body["max_tokens"], body["temperature"]) == (4096, 0.2)


WEATHER = Tool("get_weather", "Weather.", {"type": "object", "properties": {}})


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        pytest.param({"max_tokens": 1024}, "max_tokens", id="no-room-for-the-least-budget"),
        pytest.param({"temperature": 0.2}, "temperature", id="temperature"),
        pytest.param({"options": effort("low", top_k=5)}, "top_k", id="top-k"),
        pytest.param({"options": effort("low", top_p=0.5)}, "top_p", id="top-p"),
        pytest.param(
            {"options": effort("low", response_format=ResponseFormat("json_object"))},
            "response_format",
            id="structured-output",
        ),
        pytest.param(
            {"options": effort("low", tools=(WEATHER,), tool_choice=ToolChoice("required"))},
            "tool_choice",
            id="forced-tool",
        ),
    ],
)
async def test_what_claude_refuses_with_thinking_is_refused_before_the_call(
    anthropic, fake_upstream, kwargs, param
):
    kwargs = {"options": effort("low"), **kwargs}
    with pytest.raises(UnsupportedParameterError) as caught:
        await anthropic.complete(ASK, model=CLAUDE, **kwargs)
    assert caught.value.param == param
    assert "reasoning_effort" in caught.value.message
    assert fake_upstream.requests == []


async def test_the_allowed_neighbours_of_thinking_go_with_it(anthropic, fake_upstream):
    options = effort("low", top_p=0.97, tools=(WEATHER,), tool_choice=ToolChoice("auto"))
    await anthropic.complete(ASK, model=CLAUDE, temperature=1, options=options)
    body = sent(fake_upstream)
    assert (body["top_p"], body["temperature"], body["tool_choice"]) == (
        0.97,
        1,
        {"type": "auto"},
    )
    assert body["thinking"]["budget_tokens"] == 2048


async def test_a_prefilled_answer_goes_without_thinking(anthropic, fake_upstream):
    # The conversation ends with the start of the answer: Claude would want it to start with
    # a thinking block of its own (the fake refuses thinking without one, as Anthropic does).
    prefill = [*ASK, Message(Role.ASSISTANT, "Because")]
    await anthropic.complete(prefill, model=CLAUDE, temperature=0.2, options=effort("high"))
    assert "thinking" not in sent(fake_upstream)


async def test_drop_params_leaves_out_what_thinking_does_not_go_with(anthropic, fake_upstream):
    options = effort("low", top_k=5, top_p=0.5, drop_unsupported=True)
    await anthropic.complete(ASK, model=CLAUDE, options=options)
    body = sent(fake_upstream)
    assert "top_k" not in body and "top_p" not in body
    assert body["thinking"]["budget_tokens"] == 2048


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_tool_loop_turn_goes_without_thinking(anthropic, fake_upstream, stream):
    # Claude would need the calling turn's thinking blocks back; no OpenAI-shaped client has
    # them, so the answer to the tool results is asked for without thinking (the fake refuses
    # thinking without them, as Anthropic does).
    loop = [
        *ASK,
        Message(Role.ASSISTANT, "", tool_calls=(ToolCall("toolu_1", "get_weather", "{}"),)),
        Message(Role.TOOL, "sunny", tool_call_id="toolu_1", name="get_weather"),
    ]
    options = effort("high", tools=(WEATHER,))
    if stream:
        await drain(anthropic.stream(loop, model=CLAUDE, options=options))
    else:
        await anthropic.complete(loop, model=CLAUDE, options=options)
    assert "thinking" not in sent(fake_upstream)
    # A question right after the results joins their turn on Claude's wire: still the loop.
    await anthropic.complete([*loop, Message(Role.USER, "And tomorrow?")], model=CLAUDE,
                             options=options)  # fmt: skip
    assert "thinking" not in sent(fake_upstream)
    # Once the loop has its answer, the next question thinks again.
    after = [*loop, Message(Role.ASSISTANT, "Sunny."), Message(Role.USER, "And tomorrow?")]
    await anthropic.complete(after, model=CLAUDE, options=options)
    assert sent(fake_upstream)["thinking"]["budget_tokens"] == 24576


# --- Gemini ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "budget"), [("low", 2048), ("high", 24576), ("none", 0)])
async def test_gemini_gets_a_thinking_budget(gemini, fake_upstream, level, budget):
    response = await gemini.complete(ASK, model=GEMINI, options=effort(level))
    config = sent(fake_upstream)["generationConfig"]
    # The raw wire writes camelCase, the SDK's typed API snake_case (Google takes both).
    assert config["thinkingConfig"] in ({"thinkingBudget": budget}, {"thinking_budget": budget})
    assert response.usage.reasoning_tokens == min(budget, 5)


# --- OpenAI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_openai_gets_the_effort_itself(openai, fake_upstream, stream):
    if stream:
        await drain(openai.stream(ASK, model=GPT, options=effort("minimal")))
    else:
        response = await openai.complete(ASK, model=GPT, options=effort("minimal"))
        assert response.usage.reasoning_tokens == 5
    assert sent(fake_upstream)["reasoning_effort"] == "minimal"


@pytest.mark.parametrize("level", ["xhigh", "max"])
async def test_openais_newest_efforts_go_as_they_are(openai, gemini, fake_upstream, level):
    await openai.complete(ASK, model=GPT, options=effort(level))
    assert sent(fake_upstream)["reasoning_effort"] == level
    await gemini.complete(ASK, model=GEMINI, options=effort(level))
    config = sent(fake_upstream)["generationConfig"]["thinkingConfig"]
    assert set(config.values()) == {{"xhigh": 32768, "max": 65536}[level]}


# --- the setting -------------------------------------------------------------------------------


def test_a_partial_budgets_setting_changes_only_its_efforts(settings):
    from ai.providers import reasoning

    settings.AI_REASONING_BUDGETS = {"low": 1500}
    assert [reasoning.budget(e) for e in ("none", "minimal", "low", "high")] == [0, 1024, 1500,
                                                                                24576]  # fmt: skip
    settings.AI_REASONING_BUDGETS = {"low": None}  # not a budget (ai.E004): the built-in one
    assert reasoning.budget("low") == 2048
    assert reasoning.budget(None) is None


@pytest.mark.parametrize(
    "value",
    [{"none": 1}, {"extreme": 1}, {"low": -1}, {"low": "2048"}, {"low": True}, [("low", 1)]],
)
def test_an_invalid_budgets_setting_is_a_system_check_error(settings, value):
    from django.core.checks import run_checks

    settings.AI_REASONING_BUDGETS = value
    [error] = [m for m in run_checks() if m.id == "ai.E004"]
    assert "AI_REASONING_BUDGETS" in error.msg


def test_valid_budgets_pass_the_checks(settings):
    from django.core.checks import run_checks

    for value in (None, {}, {"high": 32000, "minimal": 512}):
        settings.AI_REASONING_BUDGETS = value
        assert not [m for m in run_checks() if m.id == "ai.E004"]
