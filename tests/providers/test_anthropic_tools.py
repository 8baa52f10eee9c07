"""AnthropicProvider beyond plain text, through the official anthropic SDK against the fake
upstream over real HTTP (once per HTTP transport): tools and tool results, images, structured
output, sampling options, refused options and count_tokens. The request translation is also
checked as a table of real Messages API payloads."""

from __future__ import annotations

import orjson
import pytest

from ai.exceptions import (
    UnsupportedParameterError,
    UpstreamAuthenticationError,
    UpstreamStreamError,
)
from ai.providers._anthropic_wire import request_body
from ai.providers.base import ChatRequest, Message, Role
from ai.providers.parts import (
    ChatOptions,
    ImagePart,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)
from tests.fake_upstream import fake_prompt_tokens
from tests.fake_upstream.scenario import fake_arguments, tool_reply
from tests.providers.conftest import PNG, ask, drain, failed_tool_turn, open_provider, sent

MODEL = "claude-test"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}
TIME_SCHEMA = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
WEATHER = Tool("get_weather", "The weather in a city.", WEATHER_SCHEMA)
TIME = Tool("get_time", "The time in a zone.", TIME_SCHEMA)
TOOLS = ChatOptions(tools=(WEATHER, TIME))


@pytest.fixture
async def provider(upstream_settings, transport):
    async with open_provider("anthropic") as provider:
        yield provider


# -- tool calls ----------------------------------------------------------------------------------


async def test_tool_call_complete(provider, fake_upstream):
    response = await provider.complete(ask(), model=MODEL, options=TOOLS)

    [call] = response.tool_calls
    assert call.id.startswith("toolu_")
    assert call.name == "get_weather"
    assert orjson.loads(call.arguments) == {"city": "Paris", "unit": "celsius"}
    assert response.finish_reason == "tool_calls"
    assert response.content == ""
    assert response.usage.source == "reported"
    body = sent(fake_upstream)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER_SCHEMA,
        },
        {"name": "get_time", "description": "The time in a zone.", "input_schema": TIME_SCHEMA},
    ]
    assert "tool_choice" not in body


async def test_tool_call_stream(provider):
    stream = provider.stream(ask(), model=MODEL, options=TOOLS)
    pieces = await drain(stream)

    first = pieces[0]
    assert isinstance(first, ToolCallDelta)
    assert (first.index, first.name, first.arguments) == (0, "get_weather", "")
    assert first.id.startswith("toolu_")
    fragments = [p.arguments for p in pieces[1:]]
    assert all(isinstance(p, ToolCallDelta) and p.index == 0 for p in pieces[1:])
    assert len(fragments) >= 2 and all(fragments)  # the empty first fragment is not relayed
    assert orjson.loads("".join(fragments)) == {"city": "Paris", "unit": "celsius"}
    [call] = stream.tool_calls
    assert call.id == first.id
    assert stream.finish_reason == "tool_calls"
    assert stream.response.tool_calls == (call,)
    assert stream.response.content == ""
    assert stream.response.usage.source == "reported"


async def test_parallel_tool_calls_stream_by_call_ordinal(provider):
    stream = provider.stream(
        ask("Weather and time? [[fake:tool_calls=2]]"), model=MODEL, options=TOOLS
    )
    pieces = await drain(stream)

    starts = [p for p in pieces if isinstance(p, ToolCallDelta) and p.name]
    assert [(p.index, p.name) for p in starts] == [(0, "get_weather"), (1, "get_time")]
    calls = stream.tool_calls
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert orjson.loads(calls[1].arguments) == {"zone": "Paris"}
    assert len({c.id for c in calls}) == 2


async def test_parallel_tool_round_trip(provider, fake_upstream):
    question = ask("Weather and time? [[fake:tool_calls=2]]")
    first = await provider.complete(question, model=MODEL, options=TOOLS)
    weather, time = first.tool_calls

    follow_up = [
        *question,
        Message(Role.ASSISTANT, "Let me look.", tool_calls=first.tool_calls),
        Message(Role.TOOL, "18C and sunny", tool_call_id=weather.id, name=weather.name),
        Message(Role.TOOL, "10:00 CET", tool_call_id=time.id, name=time.name),
    ]
    final = await provider.complete(follow_up, model=MODEL, options=TOOLS)

    assert final.content == tool_reply("18C and sunny\n10:00 CET")
    assert final.finish_reason == "stop"
    assert final.tool_calls == ()
    messages = sent(fake_upstream)["messages"]
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": weather.id,
                    "name": "get_weather",
                    "input": {"city": "Paris", "unit": "celsius"},
                },
                {"type": "tool_use", "id": time.id, "name": "get_time", "input": {"zone": "Paris"}},
            ],
        },
        {  # both results in ONE user turn: Anthropic wants the roles to alternate
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": weather.id, "content": "18C and sunny"},
                {"type": "tool_result", "tool_use_id": time.id, "content": "10:00 CET"},
            ],
        },
    ]

    stream = provider.stream(follow_up, model=MODEL, options=TOOLS)
    pieces = await drain(stream)
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == tool_reply("18C and sunny\n10:00 CET")
    assert stream.finish_reason == "stop"


@pytest.mark.parametrize(
    ("choice", "parallel", "wire", "calls"),
    [
        (ToolChoice("required"), None, {"type": "any"}, ["get_weather", "get_time"]),
        (
            ToolChoice("function", "get_time"),
            None,
            {"type": "tool", "name": "get_time"},
            ["get_time"],
        ),
        (ToolChoice("none"), None, {"type": "none"}, []),
        (ToolChoice("auto"), None, {"type": "auto"}, ["get_weather", "get_time"]),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}, ["get_weather"]),
        (
            ToolChoice("required"),
            False,
            {"type": "any", "disable_parallel_tool_use": True},
            ["get_weather"],
        ),
    ],
)
async def test_tool_choice(provider, fake_upstream, choice, parallel, wire, calls):
    options = ChatOptions(tools=(WEATHER, TIME), tool_choice=choice, parallel_tool_calls=parallel)
    response = await provider.complete(
        ask("go [[fake:tool_calls=2]]"), model=MODEL, options=options
    )

    assert sent(fake_upstream)["tool_choice"] == wire
    assert [c.name for c in response.tool_calls] == calls
    assert response.finish_reason == ("tool_calls" if calls else "stop")


async def test_error_inside_a_tool_call_stream(provider):
    stream = provider.stream(ask("go [[fake:error_after=2]]"), model=MODEL, options=TOOLS)
    pieces: list = []
    with pytest.raises(UpstreamStreamError):
        async for piece in stream:
            pieces.append(piece)
    assert [p.index for p in pieces] == [0, 0]  # the call's start and its first fragment
    assert stream.finish_reason == "error"


async def test_tool_call_arguments_must_be_an_object(provider, fake_upstream):
    bad = [
        Message(Role.USER, "hi"),
        Message(Role.ASSISTANT, "", tool_calls=(ToolCall("toolu_1", "get_weather", "[1]"),)),
        Message(Role.TOOL, "18C", tool_call_id="toolu_1"),
    ]
    with pytest.raises(UnsupportedParameterError) as caught:
        await provider.complete(bad, model=MODEL, options=TOOLS)
    assert caught.value.param == "messages"
    assert fake_upstream.requests == []


# -- images --------------------------------------------------------------------------------------


async def test_images_base64_and_url(provider, fake_upstream):
    message = Message.of_parts(
        Role.USER,
        [
            TextPart("Compare these."),
            ImagePart.from_url(f"data:image/png;base64,{PNG}"),
            ImagePart.from_url("https://example.com/cat.jpg"),
        ],
    )
    response = await provider.complete([message], model=MODEL)

    assert response.finish_reason == "stop"
    assert sent(fake_upstream)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these."},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        }
    ]
    assert response.usage.prompt_tokens == 2  # the text only


async def test_image_type_anthropic_lacks_is_refused(provider, fake_upstream):
    bmp = Message.of_parts(
        Role.USER, [TextPart("What is it?"), ImagePart(data=PNG, media_type="image/bmp")]
    )
    with pytest.raises(UnsupportedParameterError) as caught:
        await provider.complete([bmp], model=MODEL)
    assert caught.value.param == "messages"
    assert "image/bmp" in caught.value.message
    assert fake_upstream.requests == []


# -- structured output ---------------------------------------------------------------------------


async def test_json_schema_through_a_forced_tool(provider, fake_upstream):
    fmt = ResponseFormat("json_schema", WEATHER_SCHEMA, name="weather_report", strict=True)
    options = ChatOptions(response_format=fmt)

    response = await provider.complete(ask("Report."), model=MODEL, options=options)

    assert orjson.loads(response.content) == fake_arguments(WEATHER_SCHEMA)
    assert response.finish_reason == "stop"
    assert response.tool_calls == ()
    body = sent(fake_upstream)
    assert body["tools"] == [
        {
            "name": "weather_report",
            "description": "Answer with JSON matching this schema.",
            "input_schema": WEATHER_SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "weather_report"}

    stream = provider.stream(ask("Report."), model=MODEL, options=options)
    pieces = await drain(stream)
    assert all(isinstance(p, str) for p in pieces)
    assert orjson.loads("".join(pieces)) == fake_arguments(WEATHER_SCHEMA)
    assert stream.finish_reason == "stop"
    assert stream.tool_calls == ()


async def test_json_object(provider, fake_upstream):
    options = ChatOptions(response_format=ResponseFormat("json_object"))
    response = await provider.complete(ask("Any JSON."), model=MODEL, options=options)

    assert orjson.loads(response.content) == {}
    assert sent(fake_upstream)["tools"][0]["input_schema"] == {"type": "object"}
    assert sent(fake_upstream)["tool_choice"] == {"type": "tool", "name": "json_output"}


# -- sampling options and refusals ---------------------------------------------------------------


async def test_sampling_options_on_the_wire(provider, fake_upstream):
    options = ChatOptions(
        stop=("END", "STOP"),
        top_p=0.9,
        top_k=40,
        user="user-42",
        metadata={"trace": "abc"},
    )
    response = await provider.complete(ask("hi"), model=MODEL, temperature=0.2, options=options)

    assert response.finish_reason == "stop"
    body = sent(fake_upstream)
    assert body["stop_sequences"] == ["END", "STOP"]
    assert body["top_p"] == 0.9
    assert body["top_k"] == 40
    assert body["temperature"] == 0.2
    # Only user_id exists in Anthropic's metadata; other keys are not forwarded.
    assert body["metadata"] == {"user_id": "user-42"}


async def test_metadata_user_id(provider, fake_upstream):
    options = ChatOptions(metadata={"user_id": "u-7", "trace": "abc"})
    await provider.complete(ask("hi"), model=MODEL, options=options)
    assert sent(fake_upstream)["metadata"] == {"user_id": "u-7"}


@pytest.mark.parametrize(
    ("options", "param"),
    [
        (ChatOptions(seed=7), "seed"),
        (ChatOptions(presence_penalty=0.5), "presence_penalty"),
        (ChatOptions(frequency_penalty=0.5), "frequency_penalty"),
        (ChatOptions(extra={"logit_bias": {"1": 2}}), "logit_bias"),
        (
            ChatOptions(tools=(WEATHER,), response_format=ResponseFormat("json_object")),
            "response_format",
        ),
    ],
)
async def test_refused_before_any_upstream_request(provider, fake_upstream, options, param):
    with pytest.raises(UnsupportedParameterError) as caught:
        await provider.complete(ask("hi"), model=MODEL, options=options)
    assert caught.value.param == param
    assert caught.value.status_code == 400
    with pytest.raises(UnsupportedParameterError):
        provider.stream(ask("hi"), model=MODEL, options=options)
    assert fake_upstream.requests == []


# -- count_tokens --------------------------------------------------------------------------------


async def test_count_tokens(provider, fake_upstream):
    messages = [
        Message(Role.SYSTEM, "You are terse."),
        Message(Role.USER, "How many tokens is this?"),
    ]
    request = ChatRequest(tuple(messages), MODEL, temperature=0.5, max_tokens=99, options=TOOLS)

    assert await provider.count_tokens(request) == fake_prompt_tokens(m.content for m in messages)

    [captured] = fake_upstream.requests
    assert captured.path == "/v1/messages/count_tokens"
    assert captured.headers["Authorization"] == "Bearer sk-ant-test-anthropic"
    assert set(captured.body) == {"model", "messages", "system", "tools"}


async def test_count_tokens_errors_are_the_apps(upstream_settings, transport, settings):
    settings.ANTHROPIC_API_KEY = "bad-key"
    async with open_provider("anthropic") as provider:
        with pytest.raises(UpstreamAuthenticationError):
            await provider.count_tokens(ChatRequest((Message(Role.USER, "hi"),), MODEL))


# -- the request translation, as a table of real payloads ----------------------------------------

TRANSLATIONS = [
    pytest.param(
        [Message(Role.USER, "a"), Message(Role.USER, "b"), Message(Role.ASSISTANT, "c")],
        ChatOptions(),
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
                {"role": "assistant", "content": "c"},
            ]
        },
        id="consecutive-turns-merged",
    ),
    pytest.param(
        [
            Message(Role.USER, "weather?"),
            Message(Role.ASSISTANT, "", tool_calls=(ToolCall("toolu_1", "get_weather", ""),)),
            Message(Role.TOOL, "", tool_call_id="toolu_1"),
            Message(Role.USER, "thanks"),
        ],
        ChatOptions(),
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1"},
                        {"type": "text", "text": "thanks"},
                    ],
                },
            ]
        },
        id="tool-result-then-user-text",
    ),
    pytest.param(
        [Message(Role.USER, "hi")],
        ChatOptions(
            tools=(Tool("ping"),), tool_choice=ToolChoice("none"), parallel_tool_calls=False
        ),
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}],
            "tool_choice": {"type": "none"},
        },
        id="no-parameters-and-none",
    ),
    pytest.param(
        [
            Message(Role.ASSISTANT, "", tool_calls=(ToolCall("toolu_2", "snap", "{}"),)),
            Message.of_parts(
                Role.TOOL,
                [TextPart("the photo"), ImagePart(url="https://example.com/p.png")],
                tool_call_id="toolu_2",
            ),
        ],
        ChatOptions(stop=("x",), user="u"),
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_2", "name": "snap", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_2",
                            "content": [
                                {"type": "text", "text": "the photo"},
                                {
                                    "type": "image",
                                    "source": {"type": "url", "url": "https://example.com/p.png"},
                                },
                            ],
                        }
                    ],
                },
            ],
            "stop_sequences": ["x"],
            "metadata": {"user_id": "u"},
        },
        id="tool-result-with-an-image",
    ),
]


@pytest.mark.parametrize(("messages", "options", "expected"), TRANSLATIONS)
def test_request_translation(messages, options, expected):
    body = request_body(ChatRequest(tuple(messages), MODEL, options=options))
    assert body == {"model": MODEL, "max_tokens": 4096, **expected}


async def test_a_failed_tool_result_carries_is_error(provider, fake_upstream):
    """``is_error`` reaches Anthropic as its own flag, the text as the tool gave it."""
    await provider.complete(failed_tool_turn("toolu_9"), model=MODEL, options=TOOLS)
    [block] = sent(fake_upstream)["messages"][-1]["content"]
    assert block == {
        "type": "tool_result",
        "tool_use_id": "toolu_9",
        "is_error": True,
        "content": "clock broken",
    }
