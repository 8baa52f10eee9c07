"""The Responses API surface (``ai.api.responses_format``, ``ai.api.responses_stream``): tables
of real payloads (as the openai SDK sends them) and the ``LLMCall`` each becomes, the payloads
refused with the field each 400 names, and the answers, JSON and streamed, read back by the
SDK's own models (strict validation) through Django's async client on the offline and
scripted providers."""

from __future__ import annotations

import base64
import io

import orjson
import pytest
from django.core.management import call_command
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from ai.api.errors import InvalidRequest
from ai.api.responses_format import ResponsesRequest, parse_request
from ai.api.responses_stream import ResponseFrames
from ai.api.validation import validate
from ai.exceptions import UpstreamConnectionError
from ai.providers.base import Message, ModelComplexity, Role
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
from ai.services.gateway import Outcome
from ai.usage.events import STATUS_ERROR, STATUS_OK
from tests.api.sse_client import parse_sse

URL = "/api/v1/openai/responses"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather.",
    "parameters": WEATHER,
    "strict": True,
}
CALL = {
    "type": "function_call",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
}
EVENTS = TypeAdapter(ResponseStreamEvent)


def request(**body):
    return validate(ResponsesRequest, {"model": "gpt-4o-mini", "input": "hi", **body})


def call_of(**body):
    return request(**body).to_call().call


def errors_of(**body) -> dict[str, list[str]]:
    with pytest.raises(InvalidRequest) as caught:
        request(**body).to_call()
    return caught.value.fields


# --- what each payload becomes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"input": "hi"}, (Message(Role.USER, "hi"),), id="string"),
        pytest.param(
            {"input": "hi", "instructions": "Be terse."},
            (Message(Role.SYSTEM, "Be terse."), Message(Role.USER, "hi")),
            id="instructions",
        ),
        pytest.param(
            {
                "input": [
                    {"role": "developer", "content": "D"},
                    {"role": "system", "content": [{"type": "input_text", "text": "S"}]},
                    {"type": "message", "role": "user", "content": "hi"},
                ]
            },
            (Message(Role.SYSTEM, "D"), Message(Role.SYSTEM, "S"), Message(Role.USER, "hi")),
            id="roles",
        ),
        pytest.param(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "What is this?"},
                            {
                                "type": "input_image",
                                "image_url": f"data:image/png;base64,{PNG}",
                                "detail": "low",
                            },
                            {"type": "input_image", "image_url": "https://x.test/a.jpg"},
                        ],
                    }
                ]
            },
            (
                Message(
                    Role.USER,
                    "What is this?",
                    (
                        TextPart("What is this?"),
                        ImagePart(data=PNG, media_type="image/png", detail="low"),
                        ImagePart(url="https://x.test/a.jpg"),
                    ),
                ),
            ),
            id="images",
        ),
        pytest.param(
            {
                "input": [
                    {"role": "user", "content": "Weather in Paris?"},
                    CALL,
                    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                ]
            },
            (
                Message(Role.USER, "Weather in Paris?"),
                Message(
                    Role.ASSISTANT,
                    "",
                    tool_calls=(ToolCall("call_1", "get_weather", '{"city":"Paris"}'),),
                ),
                Message(Role.TOOL, "sunny", tool_call_id="call_1", name="get_weather"),
            ),
            id="function-call-round-trip",
        ),
        pytest.param(
            {
                # An earlier answer given back as the SDK returned it: its message and its two
                # calls are one assistant turn; both results follow.
                "input": [
                    {"role": "user", "content": "Paris and Rome?"},
                    {
                        "type": "message",
                        "id": "msg_1",
                        "status": "completed",
                        "role": "assistant",
                        "content": [
                            {"type": "output_text", "text": "Checking.", "annotations": []}
                        ],
                    },
                    {**CALL, "id": "fc_1", "status": "completed"},
                    {**CALL, "call_id": "call_2", "arguments": '{"city":"Rome"}'},
                    {
                        "type": "function_call_output",
                        "call_id": "call_1",
                        "output": [{"type": "input_text", "text": "sunny"}],
                    },
                    {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
                ]
            },
            (
                Message(Role.USER, "Paris and Rome?"),
                Message(
                    Role.ASSISTANT,
                    "Checking.",
                    tool_calls=(
                        ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
                        ToolCall("call_2", "get_weather", '{"city":"Rome"}'),
                    ),
                ),
                Message(Role.TOOL, "sunny", tool_call_id="call_1", name="get_weather"),
                Message(Role.TOOL, "rain", tool_call_id="call_2", name="get_weather"),
            ),
            id="earlier-output-given-back",
        ),
        pytest.param(
            {
                "input": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": [{"type": "output_text", "text": ""}]},
                    {"role": "user", "content": "again"},
                ]
            },
            (Message(Role.USER, "hi"), Message(Role.USER, "again")),
            id="empty-assistant-turn-dropped",
        ),
    ],
)
def test_messages(body, expected):
    assert call_of(**body).messages == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, ChatOptions(), id="none"),
        pytest.param(
            {"tools": [WEATHER_TOOL], "tool_choice": "required", "parallel_tool_calls": False},
            ChatOptions(
                tools=(Tool("get_weather", "Weather.", WEATHER, True),),
                tool_choice=ToolChoice("required"),
                parallel_tool_calls=False,
            ),
            id="tools",
        ),
        pytest.param(
            {
                "tools": [{"type": "function", "name": "now", "parameters": None, "strict": None}],
                "tool_choice": {"type": "function", "name": "now"},
            },
            ChatOptions(
                tools=(Tool("now", "", {"type": "object", "properties": {}}),),
                tool_choice=ToolChoice("function", "now"),
            ),
            id="forced-function-without-parameters",
        ),
        pytest.param(
            {"tool_choice": "none", "parallel_tool_calls": True},
            ChatOptions(),
            id="tool-settings-without-tools",
        ),
        pytest.param(
            {"text": {"format": {"type": "json_object"}}},
            ChatOptions(response_format=ResponseFormat("json_object")),
            id="json-object",
        ),
        pytest.param(
            {
                "text": {
                    "format": {
                        "type": "json_schema",
                        "name": "weather",
                        "schema": WEATHER,
                        "strict": True,
                        "description": "The weather.",
                    }
                }
            },
            ChatOptions(
                response_format=ResponseFormat(
                    "json_schema", WEATHER, "weather", True, "The weather."
                )
            ),
            id="json-schema",
        ),
        pytest.param({"text": {"format": {"type": "text"}}}, ChatOptions(), id="text"),
        pytest.param(
            {"top_p": 0.5, "user": "u-1", "metadata": {"k": "v"}, "store": True},
            ChatOptions(top_p=0.5, user="u-1"),
            id="sampling-user; metadata echoed only",
        ),
    ],
)
def test_options(body, expected):
    assert call_of(**body).options == expected


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("gpt-4o-mini", {"provider": None, "model": "gpt-4o-mini", "complexity": None}),
        ("anthropic/claude-x", {"provider": "anthropic", "model": "claude-x"}),
        ("moderate", {"provider": None, "model": None, "complexity": ModelComplexity.MODERATE}),
        ("auto", {"model": None, "auto": True}),
    ],
)
def test_model_routes(model, fields):
    call = call_of(model=model)
    assert {name: getattr(call, name) for name in fields} == fields


def test_tokens_temperature_and_stream():
    call = call_of(max_output_tokens=50, temperature=0.2, stream=True)
    assert (call.max_tokens, call.temperature, call.stream) == (50, 0.2, True)


# --- what is refused, and where the 400 says it is --------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "says"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id", "does not store"),
        ({"conversation": "conv_1"}, "conversation", "does not store"),
        ({"prompt": {"id": "p"}}, "prompt", "not supported"),
        ({"reasoning": {"summary": "auto"}}, "reasoning.summary", "not supported"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "one of none, minimal"),
        ({"background": True}, "background", "only the default"),
        ({"include": ["reasoning.encrypted_content"]}, "include", "only the default"),
        ({"input": ""}, "input", "blank"),
        ({"input": []}, "input", "at least one"),
        ({"input": 5}, "input", "string or an array"),
        ({"input": ["hi"]}, "input[0]", "object"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input[0].type", "'reasoning'"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type", "Supported:"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "one of"),
        ({"input": [{"role": "user", "content": "  "}]}, "input[0].content", "blank"),
        ({"input": [{"role": "system", "content": "only"}]}, "input", "user message"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
            "'input_file'",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
            "stores no files",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0].image_url",
            "required",
        ),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "http://x.test/a.png"}],
                    }
                ]
            },
            "input[0].content[0].image_url",
            "https",
        ),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "data:text/plain,hi"}],
                    }
                ]
            },
            "input[0].content[0].image_url",
            "data:image",
        ),
        (
            {
                "input": [
                    {
                        "role": "assistant",
                        "content": [{"type": "input_image", "image_url": "https://x.test/a"}],
                    },
                    {"role": "user", "content": "hi"},
                ]
            },
            "input[0].content[0]",
            "only supported in user messages",
        ),
        (
            {"input": [{"role": "user", "content": "hi"}, {**CALL, "arguments": "{oops"}]},
            "input[1].arguments",
            "JSON object",
        ),
        (
            {
                "input": [
                    {"role": "user", "content": "hi"},
                    {"type": "function_call_output", "call_id": "call_9", "output": "x"},
                ]
            },
            "input[1].call_id",
            "earlier in input",
        ),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type", "'web_search'"),
        ({"tools": [{**WEATHER_TOOL, "name": "get weather"}]}, "tools[0].name", "letters"),
        ({"tools": [{**WEATHER_TOOL, "defer_loading": True}]}, "tools[0].defer_loading", "Unknown"),
        ({"tool_choice": "sometimes"}, "tool_choice", "auto, none or required"),
        ({"tool_choice": "required"}, "tool_choice", "without tools"),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "name": "other"}},
            "tool_choice.name",
            "one of the tools",
        ),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice.type", "'file_search'"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type", "'yaml'"),
        (
            {"text": {"format": {"type": "json_schema", "name": "x"}}},
            "text.format.schema",
            "required",
        ),
        ({"text": {"verbosity": "low"}}, "text.verbosity", "not supported"),
        ({"max_output_tokens": 0}, "max_output_tokens", "positive"),
        ({"temperature": 3}, "temperature", "between 0 and 2"),
        ({"top_p": 2}, "top_p", "between 0 and 1"),
        ({"model": ""}, "model", "non-empty"),
        ({"model": "openai/"}, "model", "after the provider"),
    ],
)
def test_refused_naming_the_field(body, path, says):
    fields = errors_of(**body)
    assert path in fields, fields
    assert says.lower() in " ".join(fields[path]).lower(), fields[path]


def test_every_error_is_reported_at_once():
    """The body's own fields and its typed lists, in one answer."""
    with pytest.raises(InvalidRequest) as caught:
        parse_request(
            {
                "model": "",
                "input": [{"role": "user", "content": [{"type": "input_file"}]}],
                "tools": [{"type": "web_search"}],
                "text": {"format": {"type": "yaml"}},
                "temperature": 9,
                "previous_response_id": "resp_1",
            }
        )
    assert set(caught.value.fields) == {
        "model",
        "temperature",
        "previous_response_id",
        "input[0].content[0].type",
        "tools[0].type",
        "text.format.type",
    }


def test_every_typed_error_is_reported_at_once():
    fields = errors_of(
        input=[{"type": "reasoning"}, {"role": "user", "content": [{"type": "input_audio"}]}],
        tools=[{"type": "mcp"}],
        text={"format": {"type": "yaml"}},
    )
    assert set(fields) == {
        "input[0].type",
        "input[1].content[0].type",
        "tools[0].type",
        "text.format.type",
    }


# --- through the HTTP API ---------------------------------------------------------------------


async def _stream(response) -> list:
    assert response["content-type"].startswith("text/event-stream")
    raw = b"".join([chunk async for chunk in response.streaming_content])
    frames = parse_sse(raw)
    events = [EVENTS.validate_python(frame.json()) for frame in frames]
    assert [frame.event for frame in frames] == [event.type for event in events]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    return events


async def test_json_answer_is_an_sdk_response(api, usage_events, user):
    response = await api.post(
        URL,
        {
            "model": "offline-echo",
            "input": "hello there",
            "instructions": "Be terse.",
            "metadata": {"k": "v"},
            "temperature": 0.5,
        },
    )
    assert response.status_code == 200, response.content
    request_id = response["x-request-id"]
    parsed = Response.model_validate(response.json())
    assert parsed.id == f"resp_{request_id}"
    assert parsed.status == "completed" and parsed.error is None
    assert parsed.output_text == "[offline:offline-echo] You said: hello there"
    [message] = parsed.output
    assert (message.type, message.id, message.role) == ("message", f"msg_{request_id}", "assistant")
    assert parsed.instructions == "Be terse."
    assert parsed.metadata == {"k": "v"} and parsed.temperature == 0.5
    assert parsed.tool_choice == "auto" and parsed.tools == []
    # The offline provider's counts: a word a token, +1 per message.
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (6, 5)
    assert parsed.usage.total_tokens == 11
    assert parsed.usage.input_tokens_details.cached_tokens == 0
    [event] = usage_events
    assert (event.endpoint, event.status, event.streamed) == ("openai_responses", STATUS_OK, False)
    assert (event.request_id, event.user_id) == (request_id, user.pk)
    assert event.usage.total_tokens == 11


@pytest.mark.parametrize(
    ("model", "route"),
    [
        ("auto", "complexity=auto:simple;"),
        ("simple", "complexity=simple;"),
        ("offline/offline-echo", "route=override;"),
    ],
)
async def test_model_names_a_route_or_a_model(api, model, route):
    response = await api.post(URL, {"model": model, "input": "hello there"})
    assert response.status_code == 200
    assert response["x-ai-route"].startswith(route)
    parsed = Response.model_validate(response.json())
    assert parsed.output_text.endswith("You said: hello there")


async def test_json_function_call(api):
    response = await api.post(
        URL, {"model": "offline-echo", "input": "Weather in Paris?", "tools": [WEATHER_TOOL]}
    )
    parsed = Response.model_validate(response.json())
    [call] = parsed.output
    assert call.type == "function_call" and call.status == "completed"
    assert call.name == "get_weather" and orjson.loads(call.arguments) == {"city": "example"}
    assert call.call_id.startswith("call_") and call.id.startswith("fc_")
    assert parsed.output_text == ""
    assert parsed.tools[0].name == "get_weather" and parsed.tools[0].strict is True


async def test_length_is_incomplete(api):
    response = await api.post(
        URL, {"model": "offline-echo", "input": "one two three four", "max_output_tokens": 2}
    )
    parsed = Response.model_validate(response.json())
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details.reason == "max_output_tokens"
    assert parsed.output[0].status == "incomplete"
    assert parsed.max_output_tokens == 2


async def test_stream_of_text(api, usage_events):
    response = await api.post(URL, {"model": "offline-echo", "input": "a b c", "stream": True})
    events = await _stream(response)
    request_id = response["x-request-id"]
    kinds = [e.type for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-5:] == [
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    text = "".join(e.delta for e in deltas)
    assert text == "[offline:offline-echo] You said: a b c"
    assert {(e.item_id, e.output_index, e.content_index) for e in deltas} == {
        (f"msg_{request_id}", 0, 0)
    }
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    final = events[-1].response
    assert final.id == f"resp_{request_id}" and final.output_text == text
    assert final.usage.output_tokens == 6
    [event] = usage_events
    assert (event.endpoint, event.status, event.streamed) == ("openai_responses", STATUS_OK, True)
    assert event.usage.total_tokens == final.usage.total_tokens


async def test_stream_of_a_function_call(api):
    response = await api.post(
        URL,
        {
            "model": "offline-echo",
            "input": "Weather?",
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "stream": True,
        },
    )
    events = await _stream(response)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, delta, done, item_done = events[2:6]
    assert added.item.type == "function_call" and added.item.arguments == ""
    assert added.item.status == "in_progress"
    assert delta.item_id == done.item_id == added.item.id
    assert done.arguments == delta.delta == '{"city":"example"}'
    assert item_done.item.status == "completed" and item_done.item.arguments == done.arguments
    assert events[-1].response.output == [item_done.item]
    assert events[-1].response.tool_choice.name == "get_weather"


async def test_stream_cut_by_max_output_tokens_ends_incomplete(api):
    response = await api.post(
        URL,
        {"model": "offline-echo", "input": "one two three", "max_output_tokens": 2, "stream": True},
    )
    events = await _stream(response)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-2].item.status == "incomplete"
    assert "response.completed" not in [e.type for e in events]


async def test_failure_mid_stream_is_an_error_and_response_failed(
    api, scripted_provider, usage_events
):
    response = await api.post(
        URL,
        {
            "model": "scripted/scripted-1",
            "input": "[[midstream:upstream_connection_error]]",
            "stream": True,
        },
    )
    assert response.status_code == 200
    events = await _stream(response)
    kinds = [e.type for e in events]
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds
    error, failed = events[-2:]
    assert error.code == "upstream_connection_error" and error.message
    assert failed.response.status == "failed"
    assert failed.response.error.code == "server_error"
    [partial] = failed.response.output
    assert partial.status == "incomplete"
    assert partial.content[0].text == "partial answer "
    [event] = usage_events
    assert (event.status, event.error_code, event.streamed) == (
        STATUS_ERROR,
        "upstream_connection_error",
        True,
    )


async def test_failure_before_the_stream_is_a_json_error(api, scripted_provider, usage_events):
    response = await api.post(
        URL,
        {
            "model": "scripted/scripted-1",
            "input": "[[raise:rate_limited retry_after=3]]",
            "stream": True,
        },
    )
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "message": response.json()["error"]["message"],
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limited",
        }
    }
    assert response["retry-after"] == "3"
    [event] = usage_events
    assert (event.endpoint, event.status) == ("openai_responses", STATUS_ERROR)


async def test_errors_in_openai_shape_and_nothing_recorded(api, usage_events):
    response = await api.post(
        URL, {"model": "gpt-4o-mini", "input": "hi", "previous_response_id": "resp_1"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", "previous_response_id")
    assert "does not store responses" in error["message"]
    assert usage_events == []


async def test_unknown_model_is_not_found(api):
    response = await api.post(URL, {"model": "no-such-model", "input": "hi"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


async def test_anonymous_is_refused(anon):
    response = await anon.post(URL, {"model": "offline-echo", "input": "hi"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


# --- the stream's events, replayed through the SDK's own stream accumulator -------------------


def _replay(frames: list[bytes]) -> list:
    """Every event the SDK's ``responses.stream`` helper hands its user for these frames."""
    state = ResponseStreamState(input_tools=[WEATHER_TOOL], text_format=omit)
    events = [EVENTS.validate_python(f.json()) for f in parse_sse(b"".join(frames))]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return [shown for event in events for shown in state.handle_event(event)]


def _frames() -> ResponseFrames:
    outcome = Outcome(
        request_id="r1", endpoint="openai_responses", user_id=None, complexity="", started=0.0
    )
    outcome.model = "m-1"
    return ResponseFrames(outcome, request(tools=[WEATHER_TOOL]).to_call().echo)


DONE = {
    "model": "m-1",
    "finish_reason": "tool_calls",
    "usage": {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "cached_tokens": 1,
        "reasoning_tokens": 0,
        "cache_write_tokens": 0,
        "source": "reported",
    },
}


def test_text_then_two_calls_are_three_items_one_after_the_other():
    frames = _frames()
    written = [
        frames.delta("Let me "),
        frames.delta("check."),
        frames.tool_call(ToolCallDelta(0, "call_a", "get_weather")),
        frames.tool_call(ToolCallDelta(0, arguments='{"city":')),
        frames.tool_call(ToolCallDelta(0, arguments='"Paris"}')),
        frames.tool_call(ToolCallDelta(1, "call_b", "get_weather", '{"city":"Rome"}')),
        *frames.done(DONE),
    ]
    shown = _replay(written)
    items = [(e.type, e.output_index) for e in shown if e.type.startswith("response.output_item")]
    assert items == [
        ("response.output_item.added", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 1),
        ("response.output_item.done", 1),
        ("response.output_item.added", 2),
        ("response.output_item.done", 2),
    ]
    snapshots = [e.snapshot for e in shown if e.type == "response.function_call_arguments.delta"]
    assert snapshots == ['{"city":', '{"city":"Paris"}', '{"city":"Rome"}']
    final = shown[-1].response
    assert shown[-1].type == "response.completed" and final.status == "completed"
    assert final.output_text == "Let me check."
    message, paris, rome = final.output
    assert message.id == "msg_r1" and message.status == "completed"
    assert (paris.call_id, paris.id, paris.parsed_arguments) == (
        "call_a",
        "fc_r1_0",
        {"city": "Paris"},
    )
    assert (rome.call_id, rome.id, rome.parsed_arguments) == ("call_b", "fc_r1_1", {"city": "Rome"})
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 4)
    assert final.usage.input_tokens_details.cached_tokens == 1


def test_text_after_a_call_is_a_second_message():
    frames = _frames()
    written = [
        frames.tool_call(ToolCallDelta(0, "call_a", "get_weather", "{}")),
        frames.delta("Done."),
        *frames.done({**DONE, "finish_reason": "stop"}),
    ]
    final = _replay(written)[-1].response
    call, message = final.output
    assert (call.type, message.type, message.id) == ("function_call", "message", "msg_r1")
    assert final.output_text == "Done."


def test_an_empty_answer_is_one_empty_message():
    frames = _frames()
    final = _replay(list(frames.done({**DONE, "finish_reason": "stop"})))[-1].response
    [message] = final.output
    assert message.type == "message" and final.output_text == ""


def test_a_failure_after_a_call_began_leaves_it_incomplete():
    frames = _frames()
    written = [
        frames.tool_call(ToolCallDelta(0, "call_a", "get_weather", '{"ci')),
        frames.failure(UpstreamConnectionError(), "r1"),
    ]
    shown = _replay(written)
    assert [e.type for e in shown][-2:] == ["error", "response.failed"]
    [call] = shown[-1].response.output
    assert (call.status, call.arguments) == ("incomplete", '{"ci')
    assert shown[-2].code == "upstream_connection_error"


@pytest.mark.django_db
def test_documented_by_its_model():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--format", "openapi-json", stdout=out)
    schema = orjson.loads(out.getvalue())
    operation = schema["paths"][URL]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(component["properties"]) == set(ResponsesRequest.model_fields)
    assert component["additionalProperties"] is False and component["required"] == [
        "model",
        "input",
    ]
    assert {"200", "400", "401", "404"} <= set(operation["responses"])
    assert "response.completed" in operation["description"]
