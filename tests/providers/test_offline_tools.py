"""The offline provider's tool calls and structured output (no network): what host projects use
to test tool-calling code, and what the compatible surfaces run on in development."""

from __future__ import annotations

import orjson
import pytest

from ai.exceptions import UnsupportedParameterError
from ai.providers.base import ChatRequest, Message, Role
from ai.providers.offline import OfflineProvider
from ai.providers.parts import (
    ChatOptions,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)

WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
)
CLOCK = Tool("get_time", "", {"type": "object", "properties": {"zone": {"type": "string"}}})


@pytest.fixture
def offline():
    return OfflineProvider()


async def test_calls_the_first_tool_with_sample_arguments(offline):
    response = await offline.complete(
        [Message(Role.USER, "weather in Paris?")], options=ChatOptions(tools=(WEATHER, CLOCK))
    )
    assert response.finish_reason == "tool_calls"
    assert response.content == ""
    [call] = response.tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("call_")
    assert orjson.loads(call.arguments) == {"city": "example", "unit": "celsius"}


async def test_a_named_tool_choice_picks_that_tool(offline):
    options = ChatOptions(tools=(WEATHER, CLOCK), tool_choice=ToolChoice("function", "get_time"))
    response = await offline.complete([Message(Role.USER, "time?")], options=options)
    assert [c.name for c in response.tool_calls] == ["get_time"]
    assert orjson.loads(response.tool_calls[0].arguments) == {"zone": "example"}


async def test_tool_choice_none_answers_in_text(offline):
    options = ChatOptions(tools=(WEATHER,), tool_choice=ToolChoice("none"))
    response = await offline.complete([Message(Role.USER, "hi")], options=options)
    assert response.tool_calls == ()
    assert response.content.endswith("You said: hi")


async def test_a_tool_result_gets_the_final_answer(offline):
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    messages = [
        Message(Role.USER, "weather in Paris?"),
        Message(Role.ASSISTANT, "", tool_calls=(call,)),
        Message(Role.TOOL, "18C and sunny", tool_call_id="call_1", name="get_weather"),
    ]
    response = await offline.complete(messages, options=ChatOptions(tools=(WEATHER,)))
    assert response.tool_calls == ()
    assert response.content.endswith("The tool said: 18C and sunny")
    assert response.finish_reason == "stop"


async def test_streamed_tool_calls_reassemble(offline):
    stream = offline.stream([Message(Role.USER, "weather?")], options=ChatOptions(tools=(WEATHER,)))
    pieces = [piece async for piece in stream]
    assert all(isinstance(p, ToolCallDelta) for p in pieces)
    assert pieces[0].id and pieces[0].name == "get_weather"
    response = stream.response
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert (call.id, call.name) == (pieces[0].id, "get_weather")
    assert orjson.loads(call.arguments)["city"] == "example"


async def test_json_schema_answers_a_sample_of_it(offline):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    options = ChatOptions(response_format=ResponseFormat("json_schema", schema, "person"))
    response = await offline.complete([Message(Role.USER, "who?")], options=options)
    assert orjson.loads(response.content) == {"name": "example", "age": 1}


def test_a_provider_refuses_an_option_it_does_not_support():
    class TextOnly(OfflineProvider):
        supported_options = frozenset({"stop"})
        passes_extra = False

    provider = TextOnly()
    provider._request([Message(Role.USER, "x")], None, None, None, ChatOptions(stop=("END",)))
    with pytest.raises(UnsupportedParameterError) as err:
        provider._request([Message(Role.USER, "x")], None, None, None, ChatOptions(seed=3))
    assert err.value.param == "seed"
    assert err.value.status_code == 400
    assert "seed" in err.value.message
    with pytest.raises(UnsupportedParameterError) as err:
        provider._request(
            [Message(Role.USER, "x")], None, None, None, ChatOptions(extra={"logit_bias": {}})
        )
    assert err.value.param == "logit_bias"


def test_the_request_carries_its_options():
    options = ChatOptions(tools=(WEATHER,), stop=("x",))
    request = OfflineProvider()._request([Message(Role.USER, "x")], None, None, None, options)
    assert isinstance(request, ChatRequest)
    assert request.options is options
