"""OpenAIProvider beyond plain text, through the official openai SDK against the fake upstream
over real HTTP (once per HTTP transport): tools and tool results, images, structured output,
sampling options, extra fields and refused options. The request translation is also checked as
a table of real Chat Completions payloads, and the fake's tool-call stream is judged by the
SDK's own stream helper."""

from __future__ import annotations

import openai
import orjson
import pytest

from ai.exceptions import UnsupportedParameterError
from ai.providers._openai_wire import body, tool_call_deltas, tool_calls
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

MODEL = "gpt-4o-mini"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TIME_SCHEMA = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
WEATHER = Tool("get_weather", "The weather in a city.", WEATHER_SCHEMA, strict=True)
TIME = Tool("get_time", "The time in a zone.", TIME_SCHEMA)
TOOLS = ChatOptions(tools=(WEATHER, TIME))
WEATHER_ARGS = {"city": "Paris", "unit": "celsius"}
PNG_URL = f"data:image/png;base64,{PNG}"


@pytest.fixture
async def provider(upstream_settings, transport):
    async with open_provider("openai") as provider:
        yield provider


# -- tool calls ----------------------------------------------------------------------------------


async def test_tool_call_complete(provider, fake_upstream):
    response = await provider.complete(ask(), model=MODEL, options=TOOLS)

    [call] = response.tool_calls
    assert call.id.startswith("call_")
    assert call.name == "get_weather"
    assert orjson.loads(call.arguments) == WEATHER_ARGS
    assert response.finish_reason == "tool_calls"
    assert response.content == ""
    assert response.usage.source == "reported"
    assert sent(fake_upstream)["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER_SCHEMA,
                "strict": True,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "description": "The time in a zone.",
                "parameters": TIME_SCHEMA,
            },
        },
    ]


async def test_tool_call_stream(provider, fake_upstream):
    stream = provider.stream(ask(), model=MODEL, options=TOOLS)
    pieces = await drain(stream)

    assert all(isinstance(p, ToolCallDelta) for p in pieces)
    head, *fragments = pieces
    assert head.index == 0 and head.id.startswith("call_") and head.name == "get_weather"
    assert head.arguments == ""
    assert len(fragments) >= 2  # arguments arrive in pieces, as OpenAI streams them
    assert all(f.index == 0 and f.id is None and f.name is None for f in fragments)
    [call] = stream.tool_calls
    assert call == ToolCall(head.id, "get_weather", "".join(f.arguments for f in fragments))
    assert orjson.loads(call.arguments) == WEATHER_ARGS
    response = stream.response
    assert response.tool_calls == (call,)
    assert response.finish_reason == "tool_calls"
    assert response.content == ""
    assert response.usage.source == "reported"  # the include_usage chunk arrived
    assert sent(fake_upstream)["stream"] is True


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_parallel_tool_calls(provider, fake_upstream, stream):
    messages = ask("Weather and time, please [[fake:tool_calls=2]]")
    options = ChatOptions(tools=(WEATHER, TIME), parallel_tool_calls=True)
    if stream:
        s = provider.stream(messages, model=MODEL, options=options)
        await drain(s)
        response = s.response
    else:
        response = await provider.complete(messages, model=MODEL, options=options)

    assert [c.name for c in response.tool_calls] == ["get_weather", "get_time"]
    assert [orjson.loads(c.arguments) for c in response.tool_calls] == [
        WEATHER_ARGS,
        {"zone": "Paris"},
    ]
    assert len({c.id for c in response.tool_calls}) == 2
    assert response.finish_reason == "tool_calls"
    assert sent(fake_upstream)["parallel_tool_calls"] is True


async def test_forced_tool_choice(provider, fake_upstream):
    options = ChatOptions(tools=(WEATHER, TIME), tool_choice=ToolChoice("function", "get_time"))
    response = await provider.complete(ask(), model=MODEL, options=options)

    assert [c.name for c in response.tool_calls] == ["get_time"]
    assert sent(fake_upstream)["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_time"},
    }


@pytest.mark.parametrize("mode", ["auto", "required", "none"])
async def test_tool_choice_modes(provider, fake_upstream, mode):
    options = ChatOptions(tools=(WEATHER,), tool_choice=ToolChoice(mode))
    response = await provider.complete(ask(), model=MODEL, options=options)

    assert sent(fake_upstream)["tool_choice"] == mode
    assert bool(response.tool_calls) == (mode != "none")


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_tool_result_round_trip(provider, fake_upstream, stream):
    first = await provider.complete(ask(), model=MODEL, options=TOOLS)
    [call] = first.tool_calls
    messages = [
        *ask(),
        Message(Role.ASSISTANT, "", tool_calls=first.tool_calls),
        Message(Role.TOOL, "18 degrees and sunny", tool_call_id=call.id, name=call.name),
    ]
    if stream:
        s = provider.stream(messages, model=MODEL, options=TOOLS)
        pieces = await drain(s)
        assert all(isinstance(p, str) for p in pieces)
        response = s.response
    else:
        response = await provider.complete(messages, model=MODEL, options=TOOLS)

    assert response.content == tool_reply("18 degrees and sunny")
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"
    assert sent(fake_upstream)["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"},
    ]


async def test_sdk_stream_helper_reassembles_the_fake_tool_calls(fake_upstream):
    """The fake's streamed tool calls are in OpenAI's exact delta shape: the SDK's own stream
    helper (what clients of the gateway use too) rebuilds them."""
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake_upstream.openai_base_url)
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
    ]
    async with (
        client,
        client.chat.completions.stream(
            model=MODEL,
            messages=[{"role": "user", "content": "Weather? [[fake:tool_calls=2]]"}],
            tools=tools,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        final = await stream.get_final_completion()

    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]
    assert all(orjson.loads(c.function.arguments) == WEATHER_ARGS for c in calls)
    assert final.usage is not None and final.usage.completion_tokens > 0


# -- images --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_images_reach_the_upstream_as_image_url_parts(provider, fake_upstream, stream):
    parts = (
        TextPart("What is in these images? [[fake:chunks=3]]"),
        ImagePart.from_url(PNG_URL),
        ImagePart.from_url("https://example.com/cat.png", detail="low"),
    )
    messages = [Message(Role.SYSTEM, "Describe."), Message.of_parts(Role.USER, parts)]
    if stream:
        s = provider.stream(messages, model=MODEL)
        await drain(s)
        response = s.response
    else:
        response = await provider.complete(messages, model=MODEL)

    assert sent(fake_upstream)["messages"] == [
        {"role": "system", "content": "Describe."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these images? [[fake:chunks=3]]"},
                {"type": "image_url", "image_url": {"url": PNG_URL}},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                },
            ],
        },
    ]
    # The fake read the text part: its directive applied and its words were counted.
    assert response.usage.completion_tokens == 3
    assert response.usage.prompt_tokens == fake_prompt_tokens(m.content for m in messages)


# -- structured output ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_json_schema(provider, fake_upstream, stream):
    fmt = ResponseFormat("json_schema", WEATHER_SCHEMA, name="weather", strict=True)
    options = ChatOptions(response_format=fmt)
    if stream:
        s = provider.stream(ask(), model=MODEL, options=options)
        await drain(s)
        content = s.response.content
    else:
        content = (await provider.complete(ask(), model=MODEL, options=options)).content

    assert orjson.loads(content) == fake_arguments(WEATHER_SCHEMA)
    assert sent(fake_upstream)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA, "strict": True},
    }


async def test_json_schema_name_defaults(provider, fake_upstream):
    options = ChatOptions(response_format=ResponseFormat("json_schema", TIME_SCHEMA))
    response = await provider.complete(ask(), model=MODEL, options=options)

    assert orjson.loads(response.content) == {"zone": "Paris"}
    assert sent(fake_upstream)["response_format"]["json_schema"] == {
        "name": "response",
        "schema": TIME_SCHEMA,
    }


async def test_json_object(provider, fake_upstream):
    options = ChatOptions(response_format=ResponseFormat("json_object"))
    response = await provider.complete(ask("Answer in JSON."), model=MODEL, options=options)

    assert orjson.loads(response.content) == {"ok": True}
    assert sent(fake_upstream)["response_format"] == {"type": "json_object"}


# -- sampling options and extra fields -----------------------------------------------------------


async def test_sampling_options_pass_through(provider, fake_upstream):
    options = ChatOptions(
        stop=("END", "STOP"),
        top_p=0.5,
        seed=42,
        presence_penalty=0.25,
        frequency_penalty=-0.5,
        user="user-7",
        metadata={"team": "search"},
    )
    response = await provider.complete(ask(), model=MODEL, max_tokens=64, options=options)

    assert response.finish_reason == "stop"
    body = sent(fake_upstream)
    assert {k: body[k] for k in body if k not in ("model", "messages")} == {
        "max_completion_tokens": 64,
        "stop": ["END", "STOP"],
        "top_p": 0.5,
        "seed": 42,
        "presence_penalty": 0.25,
        "frequency_penalty": -0.5,
        "user": "user-7",
        "metadata": {"team": "search"},
    }


async def test_extra_fields_pass_through(provider, fake_upstream):
    options = ChatOptions(seed=7, extra={"logit_bias": {"50256": -100}, "service_tier": "flex"})
    s = provider.stream(ask(), model=MODEL, options=options)
    await drain(s)

    body = sent(fake_upstream)
    assert body["logit_bias"] == {"50256": -100}
    assert body["service_tier"] == "flex"
    assert body["seed"] == 7
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("name", ["model", "messages", "stream", "stream_options"])
async def test_extra_fields_may_not_replace_the_gateways(provider, fake_upstream, name):
    with pytest.raises(UnsupportedParameterError) as caught:
        await provider.complete(ask(), model=MODEL, options=ChatOptions(extra={name: "x"}))
    assert caught.value.param == name
    assert caught.value.status_code == 400
    assert fake_upstream.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_top_k_is_refused_before_any_request(provider, fake_upstream, stream):
    options = ChatOptions(tools=(WEATHER,), top_k=40)
    with pytest.raises(UnsupportedParameterError) as caught:
        if stream:
            await drain(provider.stream(ask(), model=MODEL, options=options))
        else:
            await provider.complete(ask(), model=MODEL, options=options)

    assert caught.value.param == "top_k"
    assert caught.value.status_code == 400
    assert caught.value.code == "unsupported_parameter"
    assert "top_k" in str(caught.value)
    assert fake_upstream.requests == []


async def test_plain_text_body_is_unchanged(provider, fake_upstream):
    await provider.complete(ask(), model=MODEL)
    assert sent(fake_upstream) == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": "What is the weather in Paris?"},
        ],
    }


# -- the translation as a table of Chat Completions payloads -------------------------------------

CALL = ToolCall("call_abc", "get_weather", '{"city":"Paris"}')

TABLE = [
    pytest.param(
        [Message(Role.USER, "hi")],
        ChatOptions(),
        {"messages": [{"role": "user", "content": "hi"}]},
        id="plain",
    ),
    pytest.param(
        [
            Message.of_parts(
                Role.USER, (TextPart("look"), ImagePart(data=PNG, media_type="image/png"))
            )
        ],
        ChatOptions(),
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": PNG_URL}},
                    ],
                }
            ]
        },
        id="inline-image",
    ),
    pytest.param(
        [
            Message(Role.USER, "weather?"),
            Message(Role.ASSISTANT, "Checking.", tool_calls=(CALL,)),
            Message(Role.TOOL, '{"temp": 18}', tool_call_id="call_abc", name="get_weather"),
        ],
        ChatOptions(),
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp": 18}'},
            ]
        },
        id="tool-round-trip",
    ),
    pytest.param(
        [Message(Role.USER, "hi")],
        ChatOptions(
            tools=(Tool("noop"),),
            tool_choice=ToolChoice("required"),
            parallel_tool_calls=False,
            response_format=ResponseFormat("text"),
        ),
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "noop"}}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "response_format": {"type": "text"},
        },
        id="tool-options",
    ),
    pytest.param(
        [Message(Role.USER, "hi")],
        ChatOptions(seed=1, extra={"seed": 2, "model": "other", "logprobs": True}),
        {"messages": [{"role": "user", "content": "hi"}], "seed": 1, "logprobs": True},
        id="extra-never-overrides",
    ),
]


@pytest.mark.parametrize(("messages", "options", "expected"), TABLE)
def test_request_translation(messages, options, expected):
    request = ChatRequest(tuple(messages), "gpt-x", options=options)
    assert body(request, stream=False) == {"model": "gpt-x", **expected}


# -- reading real payloads -----------------------------------------------------------------------


def test_reading_a_tool_calling_message():
    message = {  # a real gpt-4o message with two calls
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_9xKj",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {"id": "call_2bQz", "type": "function", "function": {"name": "noop", "arguments": ""}},
        ],
        "refusal": None,
        "annotations": [],
    }
    assert tool_calls(message) == (
        ToolCall("call_9xKj", "get_weather", '{"city":"Paris"}'),
        ToolCall("call_2bQz", "noop", "{}"),
    )
    assert tool_calls({"role": "assistant", "content": "hi", "tool_calls": None}) == ()


def test_reading_streamed_tool_call_deltas():
    chunks = [  # delta.tool_calls of consecutive gpt-4o chunks
        [
            {
                "index": 0,
                "id": "call_9xKj",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
        [{"index": 0, "function": {"arguments": '{"ci'}}],
        [{"index": 0, "function": {"arguments": 'ty":"Paris"}'}}],
    ]
    assert [d for items in chunks for d in tool_call_deltas(items)] == [
        ToolCallDelta(0, "call_9xKj", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"ci'),
        ToolCallDelta(0, None, None, 'ty":"Paris"}'),
    ]
    with pytest.raises(KeyError):  # the provider turns this into UpstreamStreamError
        tool_call_deltas([{"function": {"arguments": "{}"}}])


async def test_a_failed_tool_result_says_error_first(provider, fake_upstream):
    """OpenAI has no error flag on a tool message: the text says it."""
    await provider.complete(failed_tool_turn("call_9"), model=MODEL, options=TOOLS)
    assert sent(fake_upstream)["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": "Error: clock broken",
    }
