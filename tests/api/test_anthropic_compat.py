"""The Anthropic-compatible endpoints (``ai.api.anthropic_compat``) through Django's async client,
as the anthropic SDK calls them (``x-api-key``, ``anthropic-version``), on the offline and
scripted providers: authentication, answers, stream events, errors in Anthropic's shape with
the ``request-id`` header, the ledger, count_tokens. The official SDK against the real server:
``tests/e2e/test_anthropic_sdk.py``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from ai.usage.events import STATUS_ERROR, STATUS_OK
from tests.api.sse_client import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = "/api/v1/anthropic/v1/messages"
COUNT = "/api/v1/anthropic/v1/messages/count_tokens"
ENDPOINT = "anthropic_messages"
VERSION = {"anthropic-version": "2023-06-01"}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "offline-echo",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hello there"}],
        **fields,
    }


async def _post(path: str, body: Any, headers: dict[str, str]) -> Any:
    return await AsyncClient().post(
        path, body, content_type="application/json", headers={**VERSION, **headers}
    )


@pytest.fixture
def as_sdk(token):
    """POST as the anthropic SDK does with ``api_key=<JWT>``: the token in ``x-api-key``."""

    async def post(body: Any, path: str = MESSAGES, **headers: str) -> Any:
        return await _post(path, body, {"x-api-key": token, **headers})

    return post


def _error(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = orjson.loads(response.content)
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["error"]["message"]
    assert body["request_id"] == response["request-id"] == response["X-Request-ID"]
    return body["error"]


async def _stream(response: Any) -> list[tuple[str, dict[str, Any]]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    raw = b"".join([chunk async for chunk in response.streaming_content])
    return [(frame.event, frame.json()) for frame in parse_sse(raw)]


# --- authentication ---------------------------------------------------------------------------


async def test_jwt_in_x_api_key(as_sdk, usage_events, user):
    response = await as_sdk(_body(system="Be terse.", metadata={"user_id": "u-1"}))
    assert response.status_code == 200, response.content
    body = orjson.loads(response.content)
    request_id = response["request-id"]
    assert request_id == response["X-Request-ID"]
    assert body == {
        "id": f"msg_{request_id}",
        "type": "message",
        "role": "assistant",
        "model": "offline-echo",
        "content": [{"type": "text", "text": "[offline:offline-echo] You said: hello there"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 6,  # offline: a token a word, plus one a message
            "output_tokens": 5,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    [event] = usage_events
    assert (event.endpoint, event.status, event.streamed) == (ENDPOINT, STATUS_OK, False)
    assert (event.request_id, event.user_id, event.provider) == (request_id, user.pk, "offline")
    assert response["x-ai-route"]


async def test_jwt_as_bearer_token(token, usage_events):
    """``Anthropic(auth_token=...)`` sends ``Authorization: Bearer``."""
    response = await _post(MESSAGES, _body(), {"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content


async def test_gateway_key_in_x_api_key(user, usage_events):
    from ai.models import ApiKey

    key, full_key = await sync_to_async(ApiKey.issue)(user, "sdk")
    response = await _post(MESSAGES, _body(), {"x-api-key": full_key})
    assert response.status_code == 200, response.content
    [event] = usage_events
    assert (event.api_key_id, event.endpoint) == (key.pk, ENDPOINT)


async def test_key_that_does_not_allow_the_model_is_a_permission_error(user, usage_events):
    from ai.models import ApiKey

    _, full_key = await sync_to_async(ApiKey.issue)(user, "narrow", allowed_models=["gpt-4o"])
    response = await _post(MESSAGES, _body(), {"x-api-key": full_key})
    error = _error(response, 403, "permission_error")
    assert error["code"] == "model_not_allowed"
    count_body = {k: v for k, v in _body().items() if k != "max_tokens"}
    count = await _post(COUNT, count_body, {"x-api-key": full_key})
    _error(count, 403, "permission_error")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "not-a-token"},
        {"x-api-key": "aig_short"},
        {"authorization": "Bearer not-a-token"},
    ],
    ids=["none", "bad jwt", "bad key", "bad bearer"],
)
async def test_bad_credentials_are_authentication_errors(headers, usage_events):
    response = await _post(MESSAGES, _body(), headers)
    _error(response, 401, "authentication_error")
    assert usage_events == []


# --- answers ----------------------------------------------------------------------------------


async def test_text_stream(as_sdk, usage_events):
    response = await as_sdk(_body(stream=True))
    events = await _stream(response)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    request_id = response["request-id"]
    assert events[0][1]["message"]["id"] == f"msg_{request_id}"
    assert events[0][1]["message"]["model"] == "offline-echo"
    text = "".join(p["delta"]["text"] for name, p in events if name == "content_block_delta")
    assert text == "[offline:offline-echo] You said: hello there"
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "end_turn"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (3, 5)
    [event] = usage_events
    assert (event.endpoint, event.status, event.streamed) == (ENDPOINT, STATUS_OK, True)
    assert event.request_id == request_id and event.usage.completion_tokens == 5


async def test_tool_call_then_tool_result(as_sdk, usage_events):
    first = await as_sdk(_body(tools=[WEATHER_TOOL], tool_choice={"type": "any"}))
    answer = orjson.loads(first.content)
    assert answer["stop_reason"] == "tool_use"
    [call] = answer["content"]
    assert (call["type"], call["name"], call["input"]) == (
        "tool_use",
        "get_weather",
        {"city": "example"},
    )

    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": answer["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C"}],
        },
    ]
    second = await as_sdk(_body(messages=messages, tools=[WEATHER_TOOL]))
    final = orjson.loads(second.content)
    assert final["stop_reason"] == "end_turn"
    assert final["content"] == [
        {"type": "text", "text": "[offline:offline-echo] The tool said: 18C"}
    ]
    assert [e.endpoint for e in usage_events] == [ENDPOINT, ENDPOINT]


async def test_streamed_tool_call(as_sdk):
    response = await as_sdk(_body(tools=[WEATHER_TOOL], stream=True))
    events = await _stream(response)
    [start] = [p for name, p in events if name == "content_block_start"]
    assert start["content_block"]["type"] == "tool_use"
    assert start["content_block"]["name"] == "get_weather"
    assert start["content_block"]["input"] == {}
    json_text = "".join(
        p["delta"]["partial_json"] for name, p in events if name == "content_block_delta"
    )
    assert orjson.loads(json_text) == {"city": "example"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


# --- errors -----------------------------------------------------------------------------------


async def test_bad_body_names_the_field(as_sdk, usage_events):
    response = await as_sdk(_body(max_tokens=None, thinking={"type": "enabled"}))
    error = _error(response, 400, "invalid_request_error")
    assert error["code"] == "invalid_request"
    assert set(error["fields"]) == {"max_tokens", "thinking"}
    assert "max_tokens" in error["message"]
    assert usage_events == []


async def test_unknown_model_is_not_found(as_sdk, usage_events):
    response = await as_sdk(_body(model="foo-bar"))
    error = _error(response, 404, "not_found_error")
    assert "'foo-bar'" in error["message"]
    assert usage_events == []


async def test_upstream_rate_limit(as_sdk, scripted_provider, usage_events):
    body = _body(model="scripted/scripted-1", messages=[
        {"role": "user", "content": "[[raise:rate_limited retry_after=3]]"}
    ])  # fmt: skip
    response = await as_sdk(body)
    error = _error(response, 429, "rate_limit_error")
    assert response["retry-after"] == "3"
    [event] = usage_events
    assert (event.status, event.error_code, event.request_id) == (
        STATUS_ERROR,
        error["code"],
        response["request-id"],
    )


async def test_failure_mid_stream_is_an_error_event(as_sdk, scripted_provider, usage_events):
    body = _body(model="scripted/scripted-1", stream=True, messages=[
        {"role": "user", "content": "[[midstream:upstream_connection_error]]"}
    ])  # fmt: skip
    response = await as_sdk(body)
    events = await _stream(response)
    name, payload = events[-1]
    assert name == "error"
    assert payload["error"]["type"] == "api_error"
    assert payload["error"]["code"] == "upstream_connection_error"
    assert payload["request_id"] == response["request-id"]
    assert "message_stop" not in [n for n, _ in events]
    [event] = usage_events
    assert (event.status, event.streamed) == (STATUS_ERROR, True)


# --- count_tokens -----------------------------------------------------------------------------


async def test_count_tokens_estimates_for_a_non_anthropic_target(as_sdk, usage_events):
    body = {
        "model": "offline-echo",
        "system": "Be terse.",
        "messages": [{"role": "user", "content": "x" * 40}],
        "tools": [WEATHER_TOOL],
    }
    response = await as_sdk(body, COUNT)
    assert response.status_code == 200, response.content
    count = orjson.loads(response.content)
    assert count["estimated"] is True
    assert count["input_tokens"] > 40 / 4 + 2
    assert response["request-id"]
    assert usage_events == []  # nothing generated: no ledger row
    bad = await as_sdk({"model": "offline-echo", "messages": [], "max_tokens": 5}, COUNT)
    error = _error(bad, 400, "invalid_request_error")
    assert set(error["fields"]) == {"messages", "max_tokens"}
