"""The Chat Completions request (``ai.api.openai_format``) -> the core's ``LLMCall``: tables of
real payloads (as the openai SDK sends them) and what each becomes, and of the payloads refused
with the field path each 400 names."""

from __future__ import annotations

import base64

import pytest

from ai.api.errors import InvalidRequest
from ai.api.openai_format import OpenAIChatRequest
from ai.api.validation import validate
from ai.providers.base import Message, ModelComplexity, Role
from ai.providers.parts import (
    ChatOptions,
    ImagePart,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather.", "parameters": WEATHER},
}
USER = {"role": "user", "content": "hi"}


def chat(**body):
    return validate(OpenAIChatRequest, {"model": "gpt-4o-mini", "messages": [USER], **body})


def call_of(**body):
    return chat(**body).to_chat().call


def errors_of(**body) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        chat(**body).to_chat()
    return caught.value.fields


# --- what each payload becomes ----------------------------------------------------------------

ROUND_TRIP = [
    {"role": "developer", "content": "Be terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param(
            [{"role": "system", "content": "S"}, {"role": "developer", "content": "D"}, USER],
            (Message(Role.SYSTEM, "S"), Message(Role.SYSTEM, "D"), Message(Role.USER, "hi")),
            id="system-and-developer",
        ),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ],
            (Message(Role.USER, "a\nb"),),
            id="text-parts-joined",
        ),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                        },
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ],
            (
                Message(
                    Role.USER,
                    "What is this?",
                    (
                        TextPart("What is this?"),
                        ImagePart(url="https://x.test/a.png", detail="low"),
                        ImagePart(data=PNG, media_type="image/png"),
                    ),
                ),
            ),
            id="images",
        ),
        pytest.param(
            ROUND_TRIP,
            (
                Message(Role.SYSTEM, "Be terse."),
                Message(Role.USER, "Weather in Paris?"),
                Message(
                    Role.ASSISTANT,
                    "",
                    tool_calls=(ToolCall("call_1", "get_weather", '{"city":"Paris"}'),),
                ),
                Message(Role.TOOL, "sunny", tool_call_id="call_1", name="get_weather"),
            ),
            id="tool-round-trip-names-the-result",
        ),
        pytest.param(
            [
                USER,
                {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}},
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "b", "content": ""},
                {"role": "tool", "tool_call_id": "a", "content": "1"},
            ],
            (
                Message(Role.USER, "hi"),
                Message(
                    Role.ASSISTANT,
                    "Let me look.",
                    tool_calls=(ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}")),
                ),
                Message(Role.TOOL, "", tool_call_id="b", name="g"),
                Message(Role.TOOL, "1", tool_call_id="a", name="f"),
            ),
            id="parallel-calls-text-and-empty-arguments",
        ),
    ],
)
def test_messages(messages, expected):
    assert call_of(messages=messages).messages == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, ChatOptions(), id="none"),
        pytest.param(
            {"tools": [WEATHER_TOOL], "tool_choice": "required", "parallel_tool_calls": False},
            ChatOptions(
                tools=(Tool("get_weather", "Weather.", WEATHER),),
                tool_choice=ToolChoice("required"),
                parallel_tool_calls=False,
            ),
            id="tools-required",
        ),
        pytest.param(
            {
                "tools": [{"type": "function", "function": {"name": "f", "strict": True}}],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
            },
            ChatOptions(tools=(Tool("f", "", {}, True),), tool_choice=ToolChoice("function", "f")),
            id="named-function",
        ),
        pytest.param(
            {"tool_choice": "none", "parallel_tool_calls": True, "tools": []},
            ChatOptions(),
            id="tool-settings-without-tools-ask-nothing",
        ),
        pytest.param(
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "Weather", "schema": WEATHER, "strict": True},
                }
            },
            ChatOptions(response_format=ResponseFormat("json_schema", WEATHER, "Weather", True)),
            id="json-schema",
        ),
        pytest.param(
            {"response_format": {"type": "json_object"}},
            ChatOptions(response_format=ResponseFormat("json_object")),
            id="json-object",
        ),
        pytest.param({"response_format": {"type": "text"}}, ChatOptions(), id="text-format"),
        pytest.param({"stop": "END"}, ChatOptions(stop=("END",)), id="stop-string"),
        pytest.param({"stop": ["a", "b"]}, ChatOptions(stop=("a", "b")), id="stop-list"),
        pytest.param(
            {
                "top_p": 0.5,
                "seed": 7,
                "presence_penalty": -1.5,
                "frequency_penalty": 0.25,
                "user": "u-1",
                "metadata": {"team": "x"},
            },
            ChatOptions(
                top_p=0.5,
                seed=7,
                presence_penalty=-1.5,
                frequency_penalty=0.25,
                user="u-1",
                metadata={"team": "x"},
            ),
            id="sampling",
        ),
        pytest.param(
            {
                "verbosity": "low",
                "logit_bias": {"50256": -100},
                "store": False,
                "service_tier": "auto",
                "prompt_cache_key": None,
            },
            ChatOptions(extra={"verbosity": "low", "logit_bias": {"50256": -100}}),
            id="unknown-fields-pass-through-no-ops-dropped",
        ),
        pytest.param(
            {"reasoning_effort": "low"}, ChatOptions(reasoning_effort="low"), id="reasoning-effort"
        ),
        pytest.param(
            {"n": 1, "logprobs": False, "modalities": ["text"], "stream_options": None},
            ChatOptions(),
            id="defaults-accepted",
        ),
    ],
)
def test_options(body, expected):
    assert call_of(**body).options == expected


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("gpt-4o-mini", {"provider": None, "model": "gpt-4o-mini", "complexity": None}),
        ("anthropic/claude-sonnet-4-5", {"provider": "anthropic", "model": "claude-sonnet-4-5"}),
        ("models/gemini-2.5-flash", {"provider": None, "model": "models/gemini-2.5-flash"}),
        ("simple", {"provider": None, "model": None, "complexity": ModelComplexity.SIMPLE}),
        ("search", {"model": None, "complexity": ModelComplexity.SEARCH}),
        ("auto", {"model": None, "complexity": None, "auto": True}),
    ],
)
def test_model_routes(model, fields):
    call = validate(OpenAIChatRequest, {"model": model, "messages": [USER]}).to_chat().call
    assert {name: getattr(call, name) for name in fields} == fields


def test_tokens_temperature_and_stream():
    chat_ = chat(max_completion_tokens=9, temperature=0.5, stream=True,
                 stream_options={"include_usage": True}).to_chat()  # fmt: skip
    assert (chat_.call.max_tokens, chat_.call.temperature, chat_.call.stream) == (9, 0.5, True)
    assert chat_.include_usage
    assert call_of(max_tokens=5).max_tokens == 5
    assert not chat(stream=True).to_chat().include_usage


# --- what is refused, and the path each 400 names ---------------------------------------------


def _tool_turns(arguments: str = "{}") -> list[dict]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return [USER, {"role": "assistant", "content": None, "tool_calls": [call]}]


@pytest.mark.parametrize(
    ("body", "path", "says"),
    [
        ({"n": 2}, "n", "only the default"),
        ({"logprobs": True}, "logprobs", "only the default"),
        ({"top_logprobs": 2}, "top_logprobs", "not supported"),
        ({"modalities": ["text", "audio"]}, "modalities", "only the default"),
        ({"audio": {"voice": "alloy"}}, "audio", "not supported"),
        ({"functions": [{"name": "f"}]}, "functions", "use tools"),
        ({"max_tokens": 5, "max_completion_tokens": 5}, "max_tokens", "not both"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"top_p": 1.5}, "top_p", "between 0 and 1"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort", "none, minimal, low, medium, high"),
        ({"presence_penalty": 3}, "presence_penalty", "between -2 and 2"),
        ({"tools": [{"type": "custom", "custom": {}}]}, "tools[0].type", "function tools"),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]},
         "tools[0].function.name", "letters"),
        ({"tools": [WEATHER_TOOL, WEATHER_TOOL]}, "tools[1].function.name", "Another tool"),
        ({"tool_choice": "required"}, "tool_choice", "Needs tools"),
        ({"tool_choice": "sometimes", "tools": [WEATHER_TOOL]}, "tool_choice", '"required"'),
        ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "x"}}},
         "tool_choice.function.name", "get_weather"),
        ({"response_format": {"type": "json_schema"}}, "response_format", "json_schema"),
        ({"response_format": {"type": "xml"}}, "response_format.type", "json_object"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}},
         "response_format.json_schema.name", "letters"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages[0].content", "blank"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "required"),
        ({"messages": [{"role": "function", "content": "x"}, USER]}, "messages[0].role",
         "Valid roles"),
        ({"messages": [{"role": "system", "content": [
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}, USER]},
         "messages[0].content[0].type", "only have text parts"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
         "messages[0].content[0].type", "Unsupported content part type"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content[0]", '"image_url" part needs'),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,%%%"}}]}]},
         "messages[0].content[0].image_url.url", "base64"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}]}]},
         "messages[0].content[0].image_url.url", "data:image/"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x.test/a.png"}}]}]},
         "messages[0].content[0].image_url.url", "https URL"),
        ({"messages": [USER, {"role": "assistant", "content": None}]}, "messages[1].content",
         "tool_calls"),
        ({"messages": [*_tool_turns("not json")]}, "messages[1].tool_calls[0].function.arguments",
         "JSON object"),
        ({"messages": [*_tool_turns(), {"role": "tool", "content": "x"}]},
         "messages[2].tool_call_id", "required"),
        ({"messages": [*_tool_turns(), {"role": "tool", "tool_call_id": "zz", "content": "x"}]},
         "messages[2].tool_call_id", "no tool call"),
        ({"messages": [{**USER, "tool_call_id": "c1"}]}, "messages[0].tool_call_id", "Only tool"),
        ({"messages": [{**USER, "tool_calls": []}]}, "messages[0].tool_calls", "Only assistant"),
        ({"messages": [{**USER, "colour": "red"}]}, "messages[0].colour", "Unknown field"),
    ],
)  # fmt: skip
def test_refused_naming_the_field(body, path, says):
    fields = errors_of(**body)
    assert path in fields, fields
    assert says.lower() in " ".join(fields[path]).lower(), fields


def test_every_error_is_reported_at_once():
    fields = errors_of(
        messages=[*_tool_turns("[]"), {"role": "tool", "tool_call_id": "zz", "content": "x"}],
        tool_choice="required",
    )
    assert set(fields) == {
        "messages[1].tool_calls[0].function.arguments",
        "messages[2].tool_call_id",
        "tool_choice",
    }


# --- prompt-cache breakpoints (LiteLLM's and OpenRouter's form) --------------------------------

EPHEMERAL = {"type": "ephemeral"}


def test_cache_control_as_litellm_and_openrouter_send_it():
    call = call_of(
        messages=[
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "Rules."},
                    {"type": "text", "text": "More.", "cache_control": EPHEMERAL},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A document.", "cache_control": EPHEMERAL},
                    {"type": "text", "text": "A question."},
                ],
            },
            {
                "role": "assistant",
                "content": "Looking.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done", "cache_control": EPHEMERAL},
        ],
        tools=[{**WEATHER_TOOL, "cache_control": EPHEMERAL}],
    )
    system, user, assistant, tool = call.messages
    assert system.parts == (TextPart("Rules."), TextPart("More.", cache="5m"))
    assert (system.content, system.cache) == ("Rules.\nMore.", None)
    assert user.parts == (TextPart("A document.", cache="5m"), TextPart("A question."))
    assert (user.content, user.cache) == ("A document.\nA question.", None)
    assert assistant.cache == "1h" and tool.cache == "5m"
    assert [t.cache for t in call.options.tools] == ["5m"]


def test_a_cache_control_that_is_not_anthropics_is_refused():
    bad = {"type": "persistent"}
    part = {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": bad}]}
    assert errors_of(messages=[part]).keys() == {"messages[0].content[0].cache_control.type"}
    ttl = {"role": "user", "content": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}
    assert errors_of(messages=[ttl]).keys() == {"messages[0].cache_control.ttl"}
