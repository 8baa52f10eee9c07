"""GeminiProvider beyond plain text, through google-genai against the fake upstream over real
HTTP: tools and tool calls, tool results, images, structured output, sampling options, and what
Gemini cannot do (refused before any request).

Every test runs on both wires: "raw" (the SDK's request layer + orjson) and "typed" (the SDK's
public API); both send the same body.
"""

from __future__ import annotations

import base64
import json

import pytest

from ai.exceptions import UnsupportedParameterError
from ai.providers._gemini_wire import gemini_schema
from ai.providers.base import Message, Role
from ai.providers.gemini import GeminiProvider
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
from tests.fake_upstream import reply_deltas
from tests.fake_upstream.gemini import inline_bytes
from tests.fake_upstream.scenario import fake_arguments, tool_reply
from tests.providers.conftest import open_provider

MODEL = "gemini-fake"
#: 1x1 transparent PNG.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5Er"
    "kJggg=="
)
WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    strict=True,
)
TIME = Tool("get_time", "", {"type": "object", "properties": {"zone": {"type": "string"}}})
#: What Gemini is sent for WEATHER: its Schema dialect (no additionalProperties or $schema,
#: types in capitals, a null type as nullable).
WEATHER_DECLARATION = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING", "description": "City name"},
            "unit": {"nullable": True, "type": "STRING", "enum": ["c", "f"]},
        },
        "required": ["city", "unit"],
    },
}
WEATHER_ARGS = {"city": "Paris", "unit": "c"}


@pytest.fixture(params=["raw", "typed"])
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(GeminiProvider, "wire", request.param)
    return request.param


@pytest.fixture
async def gemini(upstream_settings, wire):
    async with open_provider("gemini") as provider:
        yield provider


def sent(fake_upstream) -> dict:
    assert fake_upstream.requests, "the fake upstream saw no request"
    return fake_upstream.requests[-1].body


def ask(text: str = "Weather in Paris?") -> list[Message]:
    return [Message(Role.USER, text)]


def with_tools(*tools: Tool, **kw) -> ChatOptions:
    return ChatOptions(tools=tools or (WEATHER,), **kw)


async def collect(stream) -> tuple[str, list[ToolCallDelta]]:
    text, deltas = [], []
    async for chunk in stream:
        (text.append(chunk) if isinstance(chunk, str) else deltas.append(chunk))
    return "".join(text), deltas


# -- tool calls ----------------------------------------------------------------------------------


async def test_tool_call(gemini, fake_upstream):
    response = await gemini.complete(ask(), model=MODEL, options=with_tools())

    assert response.finish_reason == "tool_calls"  # Gemini said STOP
    assert response.content == ""
    [call] = response.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == WEATHER_ARGS
    assert call.id.startswith("call_") and len(call.id) == 29  # Gemini sends no id
    body = sent(fake_upstream)
    assert body["tools"] == [{"functionDeclarations": [WEATHER_DECLARATION]}]
    assert "toolConfig" not in body


async def test_signed_tool_call(gemini, fake_upstream):
    # Gemini 3 signs its calls (thoughtSignature beside functionCall); the call reads the same.
    response = await gemini.complete(ask(), model="gemini-3-fake", options=with_tools())
    assert [(c.name, json.loads(c.arguments)) for c in response.tool_calls] == [
        ("get_weather", WEATHER_ARGS)
    ]


async def test_tool_call_stream(gemini, fake_upstream):
    stream = gemini.stream(
        ask("[[fake:tool_calls=2]] weather and time"),
        model=MODEL,
        options=with_tools(WEATHER, TIME),
    )
    text, deltas = await collect(stream)

    assert text == ""
    # Gemini sends whole calls: one delta each, with all its arguments.
    assert [(d.index, d.name, json.loads(d.arguments)) for d in deltas] == [
        (0, "get_weather", WEATHER_ARGS),
        (1, "get_time", {"zone": "Paris"}),
    ]
    assert all(d.id and d.id.startswith("call_") for d in deltas)
    response = stream.response
    assert response.finish_reason == "tool_calls"
    assert [c.id for c in response.tool_calls] == [d.id for d in deltas]
    assert len({d.id for d in deltas}) == 2
    assert sent(fake_upstream)["tools"][0]["functionDeclarations"][1] == {
        "name": "get_time",
        "parameters": {"type": "OBJECT", "properties": {"zone": {"type": "STRING"}}},
    }


@pytest.mark.parametrize(
    ("choice", "config", "called"),
    [
        (ToolChoice("auto"), {"mode": "AUTO"}, "get_weather"),
        (ToolChoice("required"), {"mode": "ANY"}, "get_weather"),
        (ToolChoice("function", "get_time"), {"mode": "ANY", "allowedFunctionNames": ["get_time"]},
         "get_time"),
        (ToolChoice("none"), {"mode": "NONE"}, None),
    ],
)  # fmt: skip
async def test_tool_choice(gemini, fake_upstream, choice, config, called):
    options = with_tools(WEATHER, TIME, tool_choice=choice)
    response = await gemini.complete(ask(), model=MODEL, options=options)

    assert sent(fake_upstream)["toolConfig"] == {"functionCallingConfig": config}
    assert [c.name for c in response.tool_calls] == ([called] if called else [])
    assert response.finish_reason == ("tool_calls" if called else "stop")


async def test_tool_without_parameters(gemini, fake_upstream):
    ping = Tool("ping", "Ping.", {"type": "object", "properties": {}})
    response = await gemini.complete(ask(), model=MODEL, options=with_tools(ping))

    # Gemini refuses an OBJECT schema with no properties: none is sent.
    assert sent(fake_upstream)["tools"] == [
        {"functionDeclarations": [{"name": "ping", "description": "Ping."}]}
    ]
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("ping", "{}")]


# -- tool results --------------------------------------------------------------------------------


def round_trip(result: str, *, name: str | None = None) -> list[Message]:
    call = ToolCall("call_abc", "get_weather", json.dumps(WEATHER_ARGS))
    return [
        Message(Role.SYSTEM, "Use the tools."),
        Message(Role.USER, "Weather in Paris?"),
        Message(Role.ASSISTANT, "Let me check.", tool_calls=(call,)),
        Message(Role.TOOL, result, tool_call_id="call_abc", name=name),
    ]


async def test_tool_result_round_trip(gemini, fake_upstream):
    response = await gemini.complete(round_trip("sunny, 21 C"), model=MODEL, options=with_tools())

    assert response.content == tool_reply("sunny, 21 C")
    assert response.finish_reason == "stop"
    assert response.tool_calls == ()
    body = sent(fake_upstream)
    assert body["systemInstruction"] == {"parts": [{"text": "Use the tools."}], "role": "user"}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}},
            ],
        },
        # The function is named from the assistant's call the result answers.
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"result": "sunny, 21 C"},
                    }
                }
            ],
        },
    ]


async def test_gemini_3_gets_a_stand_in_thought_signature(gemini, fake_upstream):
    calls = (ToolCall("c1", "get_weather", "{}"), ToolCall("c2", "get_time", "{}"))
    messages = [
        Message(Role.USER, "both"),
        Message(Role.ASSISTANT, "", tool_calls=calls),
        Message(Role.TOOL, "sunny", tool_call_id="c1"),
        Message(Role.TOOL, "noon", tool_call_id="c2"),
    ]
    response = await gemini.complete(messages, model="gemini-3-pro-fake")

    assert response.content == tool_reply("noon")  # the fake refuses a call sent unsigned
    # Gemini 3 wants the first call of a step signed; clients never keep signatures.
    assert sent(fake_upstream)["contents"][1]["parts"] == [
        {
            "functionCall": {"name": "get_weather", "args": {}},
            "thoughtSignature": "skip_thought_signature_validator",
        },
        {"functionCall": {"name": "get_time", "args": {}}},
    ]


async def test_tool_result_stream(gemini, fake_upstream):
    stream = gemini.stream(round_trip("rain"), model=MODEL, options=with_tools())
    text, deltas = await collect(stream)

    assert (text, deltas) == (tool_reply("rain"), [])
    assert stream.response.finish_reason == "stop"


async def test_tool_result_json_object_is_the_response(gemini, fake_upstream):
    result = json.dumps({"result": "cloudy", "temp": 18})
    response = await gemini.complete(round_trip(result, name="weather_fn"), model=MODEL)

    [part] = sent(fake_upstream)["contents"][-1]["parts"]
    assert part == {
        "functionResponse": {"name": "weather_fn", "response": {"result": "cloudy", "temp": 18}}
    }
    assert response.content == tool_reply("cloudy")


async def test_parallel_tool_results_are_one_user_turn(gemini, fake_upstream):
    calls = (ToolCall("c1", "get_weather", "{}"), ToolCall("c2", "get_time", '{"zone": "UTC"}'))
    messages = [
        Message(Role.USER, "both"),
        Message(Role.ASSISTANT, "", tool_calls=calls),
        Message(Role.TOOL, "sunny", tool_call_id="c1"),
        Message(Role.TOOL, "noon", tool_call_id="c2"),
    ]
    response = await gemini.complete(messages, model=MODEL, options=with_tools(WEATHER, TIME))

    model_turn, results = sent(fake_upstream)["contents"][1:]
    assert model_turn["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {}}},
        {"functionCall": {"name": "get_time", "args": {"zone": "UTC"}}},
    ]
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
            {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
        ],
    }
    assert response.content == tool_reply("noon")


async def test_tool_result_of_an_unknown_call_is_refused(gemini, fake_upstream):
    messages = [Message(Role.USER, "hi"), Message(Role.TOOL, "x", tool_call_id="nowhere")]
    with pytest.raises(UnsupportedParameterError) as caught:
        await gemini.complete(messages, model=MODEL)
    assert caught.value.param == "messages"
    assert fake_upstream.requests == []


# -- images --------------------------------------------------------------------------------------


async def test_inline_image(gemini, fake_upstream, wire):
    image = ImagePart.from_url(f"data:image/png;base64,{PNG}")
    messages = [Message.of_parts(Role.USER, [TextPart("What is this?"), image])]
    response = await gemini.complete(messages, model=MODEL)

    assert response.content == "".join(reply_deltas("gemini", MODEL, 5))
    [content] = sent(fake_upstream)["contents"]
    assert content["role"] == "user"
    text, blob = content["parts"]
    assert text == {"text": "What is this?"}
    if wire == "raw":
        assert blob == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    else:  # the SDK re-encodes: proto field name, URL-safe base64 (Google accepts both)
        assert blob["inlineData"]["mime_type"] == "image/png"
    assert inline_bytes(blob["inlineData"]) == base64.b64decode(PNG)


async def test_image_url_is_refused_before_any_request(gemini, fake_upstream):
    image = ImagePart.from_url("https://example.com/cat.png")
    messages = [Message.of_parts(Role.USER, [TextPart("What is this?"), image])]

    with pytest.raises(UnsupportedParameterError) as caught:
        await gemini.complete(messages, model=MODEL)
    assert caught.value.param == "image_url"
    assert "data URL" in str(caught.value)
    with pytest.raises(UnsupportedParameterError):
        await gemini.stream(messages, model=MODEL).start()
    assert fake_upstream.requests == []


# -- structured output and sampling --------------------------------------------------------------

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


async def test_json_schema(gemini, fake_upstream):
    options = ChatOptions(response_format=ResponseFormat("json_schema", SCHEMA, "person", True))
    response = await gemini.complete(ask("A person"), model=MODEL, options=options)

    assert json.loads(response.content) == fake_arguments(SCHEMA) == {"name": "Paris", "age": 1}
    # responseJsonSchema takes JSON Schema itself, additionalProperties included.
    assert sent(fake_upstream)["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": {k: v for k, v in SCHEMA.items() if k != "$schema"},
    }


async def test_json_schema_stream(gemini, fake_upstream):
    options = ChatOptions(response_format=ResponseFormat("json_schema", SCHEMA))
    text, deltas = await collect(gemini.stream(ask("A person"), model=MODEL, options=options))
    assert json.loads(text) == {"name": "Paris", "age": 1}
    assert deltas == []


async def test_json_object(gemini, fake_upstream):
    options = ChatOptions(response_format=ResponseFormat("json_object"))
    await gemini.complete(ask(), model=MODEL, options=options)
    assert sent(fake_upstream)["generationConfig"] == {"responseMimeType": "application/json"}


async def test_sampling_options(gemini, fake_upstream):
    options = ChatOptions(
        stop=("END", "STOP"),
        top_p=0.9,
        top_k=40,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        user="user-42",  # accepted, not sent: it does not change the answer
        metadata={"team": "search"},
    )
    await gemini.complete(ask(), model=MODEL, temperature=0.2, max_tokens=30, options=options)

    body = sent(fake_upstream)
    assert set(body) == {"contents", "generationConfig"}
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 30,
        "stopSequences": ["END", "STOP"],
        "topP": 0.9,
        "topK": 40,  # the typed wire sends 40.0
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
    }


# -- refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "param"),
    [
        (with_tools(parallel_tool_calls=False), "parallel_tool_calls"),
        (ChatOptions(extra={"logit_bias": {"1": 2}}), "logit_bias"),
    ],
)
async def test_refused_before_any_request(gemini, fake_upstream, options, param):
    with pytest.raises(UnsupportedParameterError) as caught:
        await gemini.complete(ask(), model=MODEL, options=options)
    assert caught.value.param == param
    with pytest.raises(UnsupportedParameterError):
        gemini.stream(ask(), model=MODEL, options=options)
    assert fake_upstream.requests == []


async def test_parallel_tool_calls_true_is_accepted(gemini, fake_upstream):
    response = await gemini.complete(
        ask(), model=MODEL, options=with_tools(parallel_tool_calls=True)
    )
    assert [c.name for c in response.tool_calls] == ["get_weather"]


# -- the schema cleaner (a table of JSON Schemas as clients send them) ---------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "minLength": 1, "strict": True}, {"type": "STRING", "minLength": 1}),
        ({"type": ["integer", "null"]}, {"type": "INTEGER", "nullable": True}),
        ({"const": "x"}, {"enum": ["x"]}),
        ({"type": "integer", "enum": [1, 2]}, {"type": "INTEGER"}),  # Gemini: string enums only
        (
            {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            {"nullable": True, "type": "STRING", "default": None},
        ),
        (
            {"oneOf": [{"type": "string"}, {"type": "number"}]},
            {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]},
        ),
        (  # pydantic's shape: $defs and $ref
            {
                "$defs": {"City": {"type": "object", "properties": {"n": {"type": "string"}},
                                   "additionalProperties": False, "title": "City"}},
                "type": "object",
                "properties": {"cities": {"type": "array", "items": {"$ref": "#/$defs/City"}}},
            },
            {
                "type": "OBJECT",
                "properties": {"cities": {"type": "ARRAY", "items": {
                    "type": "OBJECT", "properties": {"n": {"type": "STRING"}}, "title": "City"}}},
            },
        ),
    ],
)  # fmt: skip
def test_gemini_schema(schema, expected):
    assert gemini_schema(schema) == expected


def test_recursive_ref_is_bounded():
    node = {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
    cleaned = gemini_schema({"$defs": {"Node": node}, **node})
    depth = 0
    while cleaned:
        cleaned = cleaned.get("properties", {}).get("next")
        depth += 1
    assert 10 < depth < 20


async def test_a_failed_tool_result_is_an_error_response(gemini, fake_upstream):
    """Gemini's functionResponse has its own key for a failed call: ``error``."""
    messages = round_trip("clock broken")
    messages[-1] = Message(
        Role.TOOL, "clock broken", tool_call_id="call_abc", name="get_weather", is_error=True
    )
    await gemini.complete(messages, model=MODEL, options=with_tools())
    [part] = sent(fake_upstream)["contents"][-1]["parts"]
    assert part == {
        "functionResponse": {"name": "get_weather", "response": {"error": "clock broken"}}
    }


async def test_a_started_stream_no_longer_holds_the_chat(gemini, monkeypatch):
    """Once the first delta came, neither the messages nor the request body the provider built
    stay alive (a held stream would keep a whole chat to its end)."""
    import gc
    import weakref

    from ai.providers import gemini as module

    class Body(dict):  # a dict that can be weakly referenced
        pass

    bodies: list[weakref.ref] = []
    real = module.gemini_body

    def gemini_body(request):
        body = Body(real(request))
        bodies.append(weakref.ref(body))
        return body

    monkeypatch.setattr(module, "gemini_body", gemini_body)
    marker = "held-chat-marker " * 100
    stream = gemini.stream(
        [Message(Role.USER, marker + "[[fake:chunks=4 chunk_delay=0.2]]")], model=MODEL
    )
    await stream.start()
    gc.collect()
    assert [o for o in gc.get_objects() if type(o) is Message and marker in o.content] == []
    assert len(bodies) == 1 and bodies[0]() is None
    await stream.aclose()
