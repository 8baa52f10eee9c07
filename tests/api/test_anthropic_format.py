"""The Anthropic Messages wire (``ai.api.anthropic_format``, ``ai.api.anthropic_wire``): tables of
real payloads (as the anthropic SDK sends them) and the core's ``LLMCall`` each becomes, the
payloads refused with the field path each 400 names, and the answers and stream events written
from the gateway's own."""

from __future__ import annotations

import base64

import orjson
import pytest

from ai.api.anthropic_blocks import validate_body
from ai.api.anthropic_format import AnthropicCountTokensRequest, AnthropicMessagesRequest
from ai.api.anthropic_wire import MessageFrames, anthropic_error, message
from ai.api.errors import InvalidRequest
from ai.providers.base import Message, ModelComplexity, Role
from ai.providers.parts import (
    ChatOptions,
    ImagePart,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)
from ai.services.gateway import Outcome
from tests.api.sse_client import parse_sse

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL = {"name": "get_weather", "description": "Weather.", "input_schema": WEATHER}
USER = {"role": "user", "content": "hi"}
EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


def body_of(**body):
    return validate_body(
        AnthropicMessagesRequest,
        {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [USER], **body},
    )


def call_of(**body):
    return body_of(**body).to_call()


def errors_of(**body) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        body_of(**body).to_call()
    return caught.value.fields


# --- what each payload becomes ----------------------------------------------------------------

ROUND_TRIP = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look.", "citations": None},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "P"},
                "caller": {"type": "direct"},
                "toolset_name": None,
            },
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_2",
                "content": [{"type": "text", "text": "noon"}, {"type": "text", "text": "CET"}],
                "is_error": True,
            },
            {"type": "text", "text": "And tomorrow?"},
        ],
    },
]

CASES = {
    "plain text": (
        {},
        (Message(Role.USER, "hi"),),
        ChatOptions(),
    ),
    "system string and blocks of text": (
        {
            "system": [
                {"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Answer in French."},
            ],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}]},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
        },
        (  # one system turn; its blocks stay its parts, the breakpoint on the first
            Message(
                Role.SYSTEM,
                "Be terse.\nAnswer in French.",
                parts=(TextPart("Be terse.", cache="5m"), TextPart("Answer in French.")),
            ),
            Message(Role.USER, "a"),
            Message(Role.ASSISTANT, "b"),
            Message(Role.USER, "c"),
        ),
        ChatOptions(),
    ),
    "system blocks without breakpoints: one turn": (
        {
            "system": [
                {"type": "text", "text": "Be terse."},
                {"type": "text", "text": "Answer in French."},
            ],
        },
        (Message(Role.SYSTEM, "Be terse.\nAnswer in French."), Message(Role.USER, "hi")),
        ChatOptions(),
    ),
    "cache breakpoints everywhere": (
        {
            "system": [
                {"type": "text", "text": "Rules.", "cache_control": HOUR}
            ],
            "tools": [{**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "A long document.", "cache_control": EPHEMERAL},
                        {"type": "text", "text": "What does it say?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {},
                         "cache_control": {"type": "ephemeral", "ttl": "5m"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C",
                         "cache_control": {"type": "ephemeral"}},
                    ],
                },
            ],
        },
        (
            Message(Role.SYSTEM, "Rules.", parts=(TextPart("Rules.", cache="1h"),)),
            Message(
                Role.USER,
                "A long document.\nWhat does it say?",
                parts=(TextPart("A long document.", cache="5m"), TextPart("What does it say?")),
            ),
            Message(
                Role.ASSISTANT,
                "Let me check.",
                tool_calls=(ToolCall("toolu_1", "get_weather", "{}"),),
                cache="5m",
            ),
            Message(Role.TOOL, "18C", tool_call_id="toolu_1", name="get_weather", cache="5m"),
        ),
        ChatOptions(tools=(Tool("get_weather", "Weather.", WEATHER, cache="5m"),)),
    ),
    "a breakpoint inside a tool result ends it": (
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "look", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [
                                {"type": "text", "text": "a", "cache_control": HOUR},
                                {"type": "text", "text": "b"},
                            ],
                        }
                    ],
                },
            ],
        },
        (
            Message(Role.ASSISTANT, "", tool_calls=(ToolCall("t1", "look", "{}"),)),
            Message(Role.TOOL, "a\nb", tool_call_id="t1", name="look", cache="1h"),
        ),
        ChatOptions(),
    ),
    "images: base64 and url": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {"type": "text", "text": "and"},
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}},
                    ],
                }
            ]
        },
        (
            Message(
                Role.USER,
                "and",
                parts=(
                    ImagePart(data=PNG, media_type="image/png"),
                    TextPart("and"),
                    ImagePart(url="https://x/y.jpg"),
                ),
            ),
        ),
        ChatOptions(),
    ),
    "tool round trip": (
        {
            "messages": ROUND_TRIP,
            "tools": [WEATHER_TOOL, {"name": "get_time", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        },
        (
            Message(Role.USER, "Weather in Paris?"),
            Message(
                Role.ASSISTANT,
                "Let me look.",
                tool_calls=(
                    ToolCall("toolu_1", "get_weather", '{"city":"P"}'),
                    ToolCall("toolu_2", "get_time", "{}"),
                ),
            ),
            Message(Role.TOOL, "18C", tool_call_id="toolu_1", name="get_weather"),
            Message(
                Role.TOOL, "noon\nCET", tool_call_id="toolu_2", name="get_time", is_error=True
            ),
            Message(Role.USER, "And tomorrow?"),
        ),
        ChatOptions(
            tools=(
                Tool("get_weather", "Weather.", WEATHER),
                Tool("get_time", "", {"type": "object"}),
            ),
            tool_choice=ToolChoice("auto"),
            parallel_tool_calls=False,
        ),
    ),
    "tool choice any": (
        {"tools": [WEATHER_TOOL], "tool_choice": {"type": "any"}},
        (Message(Role.USER, "hi"),),
        ChatOptions(
            tools=(Tool("get_weather", "Weather.", WEATHER),), tool_choice=ToolChoice("required")
        ),
    ),
    "tool choice tool, strict tool": (
        {
            "tools": [{**WEATHER_TOOL, "strict": True, "type": "custom"}],
            "tool_choice": {"type": "tool", "name": "get_weather"},
        },
        (Message(Role.USER, "hi"),),
        ChatOptions(
            tools=(Tool("get_weather", "Weather.", WEATHER, True),),
            tool_choice=ToolChoice("function", "get_weather"),
        ),
    ),
    "tool choice none": (
        {"tools": [WEATHER_TOOL], "tool_choice": {"type": "none"}},
        (Message(Role.USER, "hi"),),
        ChatOptions(
            tools=(Tool("get_weather", "Weather.", WEATHER),), tool_choice=ToolChoice("none")
        ),
    ),
    "sampling and metadata": (
        {
            "stop_sequences": ["END", "STOP"],
            "top_p": 0.5,
            "top_k": 10,
            "metadata": {"user_id": "user-42"},
            "thinking": {"type": "disabled"},
        },
        (Message(Role.USER, "hi"),),
        ChatOptions(stop=("END", "STOP"), top_p=0.5, top_k=10, user="user-42"),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("body", "messages", "options"), CASES.values(), ids=CASES)
def test_payload_becomes_the_core_call(body, messages, options):
    call = call_of(**body)
    assert call.messages == messages
    assert call.options == options


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("claude-haiku-4-5", {"provider": None, "model": "claude-haiku-4-5"}),
        ("gpt-4o-mini", {"provider": None, "model": "gpt-4o-mini"}),
        ("gemini/gemini-2.5-flash", {"provider": "gemini", "model": "gemini-2.5-flash"}),
        ("complex", {"model": None, "complexity": ModelComplexity.COMPLEX}),
        ("auto", {"model": None, "auto": True}),
    ],
)
def test_model_names_a_model_or_a_route(model, fields):
    call = call_of(model=model, temperature=0.2, stream=True)
    assert {name: getattr(call, name) for name in fields} == fields
    assert (call.max_tokens, call.temperature, call.stream) == (64, 0.2, True)


def test_count_tokens_body_needs_no_max_tokens():
    body = validate_body(
        AnthropicCountTokensRequest,
        {"model": "claude-haiku-4-5", "messages": ROUND_TRIP, "tools": [WEATHER_TOOL]},
    )
    call = body.to_call()
    assert [m.role for m in call.messages] == [
        Role.USER, Role.ASSISTANT, Role.TOOL, Role.TOOL, Role.USER,
    ]  # fmt: skip
    assert call.options.tools[0].name == "get_weather"
    with pytest.raises(InvalidRequest) as caught:
        validate_body(AnthropicCountTokensRequest, {"model": "x", "messages": [USER], "stream": 1})
    assert list(caught.value.fields) == ["stream"]


# --- what each bad payload says ---------------------------------------------------------------

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
REFUSED = {
    "max_tokens missing": ({"max_tokens": None}, "max_tokens", "required"),
    "max_tokens over the limit": ({"max_tokens": 10**6}, "max_tokens", "at most"),
    "temperature above 1": ({"temperature": 1.5}, "temperature", "between 0 and 1"),
    "top_k negative": ({"top_k": -1}, "top_k", "non-negative"),
    "unknown field": ({"container": "x"}, "container", "not supported"),
    "thinking": (
        {"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking", "thinking",
    ),
    "metadata key": ({"metadata": {"tenant": "x"}}, "metadata.tenant", "user_id"),
    "model empty": ({"model": ""}, "model", "non-empty"),
    "provider without model": ({"model": "openai/"}, "model", "after the provider"),
    "no messages": ({"messages": []}, "messages", "at least one"),
    "system role": (
        {"messages": [{"role": "system", "content": "x"}]}, "messages[0].role", "'user'",
    ),
    "blank user text": ({"messages": [{"role": "user", "content": " "}]}, "messages[0].content",
                        "blank"),
    "empty blocks": ({"messages": [{"role": "user", "content": []}]}, "messages[0].content",
                     "at least one"),
    "unknown block": (
        {"messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        "messages[0].content[0]", "'audio'",
    ),
    "document block": (
        {"messages": [{"role": "user", "content": [{"type": "document"}]}]},
        "messages[0].content[0]", "Document",
    ),
    "unknown field of an image block": (
        {"messages": [{"role": "user", "content": [{**IMAGE, "detail": "high"}]}]},
        "messages[0].content[0].detail", "type, source, cache_control",
    ),
    "bad base64": (
        {"messages": [{"role": "user", "content": [
            {**IMAGE, "source": {**IMAGE["source"], "data": "!!"}}]}]},
        "messages[0].content[0].source.data", "base64",
    ),
    "bmp image": (
        {"messages": [{"role": "user", "content": [
            {**IMAGE, "source": {**IMAGE["source"], "media_type": "image/bmp"}}]}]},
        "messages[0].content[0].source.media_type", "image/png",
    ),
    "file source": (
        {"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
        "messages[0].content[0].source", "File sources",
    ),
    "tool_use from the user": (
        {"messages": [{"role": "user", "content": [
            {"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]},
        "messages[0].content[0]", "user message may not hold tool_use",
    ),
    "image from the assistant": (
        {"messages": [USER, {"role": "assistant", "content": [IMAGE]}]},
        "messages[1].content[0]", "assistant message may not hold image",
    ),
    "tool_result of no tool_use": (
        {"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]},
        "messages[0].content[0].tool_use_id", "No earlier tool_use",
    ),
    "image in a tool_result": (
        {"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [IMAGE]}]}]},
        "messages[0].content[0].content[0]", "text only",
    ),
    "server tool": (
        {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        "tools[0]", "Server tools",
    ),
    "citations": (
        {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "a", "citations": [{"type": "char_location"}]}]}]},
        "messages[0].content[0].citations", "Citations",
    ),
    "server tool caller": (
        {"messages": [USER, {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t", "name": "f", "input": {},
             "caller": {"type": "code_execution_20250825", "tool_id": "x"}}]}]},
        "messages[1].content[0].caller", "direct calls",
    ),
    "tool without schema": ({"tools": [{"name": "f"}]}, "tools[0].input_schema", "required"),
    "tool schema not an object": (
        {"tools": [{"name": "f", "input_schema": {"type": "string"}}]},
        "tools[0].input_schema", '"type": "object"',
    ),
    "tool name": (
        {"tools": [{"name": "a b", "input_schema": {"type": "object"}}]},
        "tools[0].name", "Must match",
    ),
    "tool choice type": ({"tool_choice": {"type": "some"}}, "tool_choice", "'some'"),
    "tool choice without tools": ({"tool_choice": {"type": "any"}}, "tool_choice", "needs tools"),
    "tool choice of an unknown tool": (
        {"tools": [WEATHER_TOOL], "tool_choice": {"type": "tool", "name": "other"}},
        "tool_choice.name", "'other'",
    ),
    "tool choice without a name": (
        {"tools": [WEATHER_TOOL], "tool_choice": {"type": "tool"}}, "tool_choice.name",
        "required",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("body", "path", "says"), REFUSED.values(), ids=REFUSED)
def test_bad_payload_names_the_field(body, path, says):
    fields = errors_of(**body)
    assert path in fields, fields
    assert says in " ".join(fields[path])


# --- answers ----------------------------------------------------------------------------------

USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "cached_tokens": 2,
    "reasoning_tokens": 0,
    "cache_write_tokens": 0,
    "source": "reported",
}
ANTHROPIC_USAGE = {
    "input_tokens": 10,
    "output_tokens": 5,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 2,
}


def _answer(**fields):
    return {"model": "m", "content": "Hi.", "finish_reason": "stop", "usage": USAGE, **fields}


@pytest.mark.parametrize(
    ("answer", "content", "stop_reason"),
    [
        (_answer(), [{"type": "text", "text": "Hi."}], "end_turn"),
        (_answer(content="", finish_reason="length"), [], "max_tokens"),
        (_answer(finish_reason="content_filter"), [{"type": "text", "text": "Hi."}], "refusal"),
        (
            _answer(
                content="",
                finish_reason="tool_calls",
                tool_calls=[
                    {"id": "c1", "name": "f", "arguments": '{"a": 1}'},
                    {"id": "c2", "name": "g", "arguments": "not json"},
                ],
            ),
            [
                {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "c2", "name": "g", "input": {}},
            ],
            "tool_use",
        ),
        (
            _answer(
                content="Let me see.",
                finish_reason="tool_calls",
                tool_calls=[{"id": "c1", "name": "f", "arguments": "{}"}],
            ),
            [
                {"type": "text", "text": "Let me see."},
                {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
            ],
            "tool_use",
        ),
    ],
)
def test_message_from_the_gateway_answer(answer, content, stop_reason):
    assert message(answer, "abc") == {
        "id": "msg_abc",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (415, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
    ],
)
def test_error_types_by_status(status, kind):
    body = anthropic_error(status, {"code": "c", "message": "m"}, "rid")
    assert body == {
        "type": "error",
        "error": {"type": kind, "message": "m", "code": "c"},
        "request_id": "rid",
    }


# --- stream events ----------------------------------------------------------------------------


def _events(steps) -> list[tuple[str, dict]]:
    outcome = Outcome(request_id="rid", endpoint="e", user_id=None, complexity="", started=0.0)
    outcome.model = "m"
    frames = MessageFrames(outcome, input_tokens=9)
    raw = b""
    for step in steps:
        if isinstance(step, str):
            raw += frames.delta(step)
        elif isinstance(step, ToolCallDelta):
            raw += frames.tool_call(step)
        else:
            raw += b"".join(frames.done(step))
    parsed = [(f.event, f.json()) for f in parse_sse(raw)]
    for name, payload in parsed:
        assert payload["type"] == name  # the event name repeats the payload's type
    return parsed


def _shape(events) -> list[str]:
    out = []
    for name, payload in events:
        if name == "content_block_start":
            out.append(f"start {payload['index']} {payload['content_block']['type']}")
        elif name == "content_block_delta":
            delta = payload["delta"]
            value = delta.get("text", delta.get("partial_json"))
            out.append(f"delta {payload['index']} {delta['type']} {value}")
        elif name == "content_block_stop":
            out.append(f"stop {payload['index']}")
        else:
            out.append(name)
    return out


def test_text_stream_events():
    events = _events(["Hel", "lo", _answer()])
    assert _shape(events) == [
        "message_start",
        "start 0 text",
        "delta 0 text_delta Hel",
        "delta 0 text_delta lo",
        "stop 0",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start == {
        "id": "msg_rid",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 0},
    }
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": ANTHROPIC_USAGE,
    }


def test_text_then_tool_calls_close_each_block_before_the_next():
    events = _events(
        [
            "Let me",
            " see.",
            ToolCallDelta(0, "c1", "get_weather"),
            ToolCallDelta(0, arguments='{"city":'),
            ToolCallDelta(0, arguments='"Paris"}'),
            ToolCallDelta(1, "c2", "get_time"),
            _answer(finish_reason="tool_calls"),
        ]
    )
    assert _shape(events) == [
        "message_start",
        "start 0 text",
        "delta 0 text_delta Let me",
        "delta 0 text_delta  see.",
        "stop 0",
        "start 1 tool_use",
        'delta 1 input_json_delta {"city":',
        'delta 1 input_json_delta "Paris"}',
        "stop 1",
        "start 2 tool_use",
        "stop 2",
        "message_delta",
        "message_stop",
    ]
    assert events[5][1]["content_block"] == {
        "type": "tool_use",
        "id": "c1",
        "name": "get_weather",
        "input": {},
    }
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_whole_tool_call_in_one_piece_and_an_empty_answer_without_blocks():
    events = _events([ToolCallDelta(0, "c1", "f", "{}"), _answer(finish_reason="tool_calls")])
    assert _shape(events) == [
        "message_start",
        "start 0 tool_use",
        "delta 0 input_json_delta {}",
        "stop 0",
        "message_delta",
        "message_stop",
    ]
    empty = _events([_answer(content="", finish_reason="length")])
    assert _shape(empty) == ["message_start", "message_delta", "message_stop"]
    assert empty[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_failure_after_the_first_byte_is_an_error_event():
    from ai.exceptions import UpstreamConnectionError

    outcome = Outcome(request_id="rid", endpoint="e", user_id=None, complexity="", started=0.0)
    frames = MessageFrames(outcome, input_tokens=1)
    [frame] = parse_sse(frames.failure(UpstreamConnectionError(), "rid"))
    assert frame.event == "error"
    assert orjson.loads(frame.data) == {
        "type": "error",
        "error": {
            "type": "api_error",
            "message": UpstreamConnectionError.default_message,
            "code": "upstream_connection_error",
        },
        "request_id": "rid",
    }
