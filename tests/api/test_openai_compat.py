"""The OpenAI-compatible endpoints, driven by the official ``openai.AsyncOpenAI`` over real HTTP
against the gateway under uvicorn, its providers pointed at the fake upstream (and offline)."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest

from ai.services import factory
from ai.usage.events import STATUS_ERROR, STATUS_OK, UsageEvent
from tests.api.live import LiveGateway
from tests.fake_upstream.scenario import fake_prompt_tokens, reply_deltas

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINT = "openai_chat_completions"


@pytest.fixture
def gateway_settings(upstream_settings):
    upstream_settings.AI_MAX_RETRIES = 0
    factory.clear_llm_cache()
    return upstream_settings


@pytest.fixture
def live(gateway_settings, transactional_db):
    server = LiveGateway().start()
    yield server
    server.stop()


def _client(live: LiveGateway, token: str) -> openai.AsyncOpenAI:
    # No SDK retries: every failure must reach the test as the gateway answered it.
    return openai.AsyncOpenAI(
        api_key=token, base_url=f"{live.url}/api/v1/openai", max_retries=0, timeout=10
    )


@pytest.fixture
async def client(live, token):
    async with _client(live, token) as sdk:
        yield sdk


async def _events(events: list[UsageEvent], n: int = 1) -> list[UsageEvent]:
    """The recorded events, once there are ``n`` (a stream records after its last frame)."""
    deadline = time.monotonic() + 5
    while len(events) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)  # and no more than n
    assert len(events) == n, events
    return events


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Be terse."}, {"role": "user", "content": text}]


async def test_non_stream_completion(client, usage_events, user):
    messages = _user("hello there [[fake:cached=2 reasoning=1]]")
    completion = await client.chat.completions.create(model="gpt-4o", messages=messages)
    prompt_tokens = fake_prompt_tokens(m["content"] for m in messages)

    assert completion.object == "chat.completion"
    assert completion.id == f"chatcmpl-{completion._request_id}"
    assert completion.model == "gpt-4o"
    [choice] = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "".join(reply_deltas("openai", "gpt-4o", 5))
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt_tokens, 5)
    assert usage.total_tokens == prompt_tokens + 5
    assert usage.prompt_tokens_details.cached_tokens == 2
    assert usage.completion_tokens_details.reasoning_tokens == 1

    [event] = await _events(usage_events)
    assert (event.endpoint, event.status, event.streamed) == (ENDPOINT, STATUS_OK, False)
    assert (event.provider, event.model, event.user_id) == ("openai", "gpt-4o", user.pk)
    assert event.request_id == completion._request_id
    assert event.usage.total_tokens == usage.total_tokens


async def test_offline_model_and_length_finish(client, usage_events):
    completion = await client.chat.completions.create(
        model="offline-echo",
        messages=[{"role": "user", "content": [{"type": "text", "text": "one two three"}]}],
        max_completion_tokens=3,
        temperature=0.1,
        user="someone",
        seed=1,
    )
    assert completion.choices[0].message.content == "[offline:offline-echo] You said:"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3
    [event] = await _events(usage_events)
    assert (event.provider, event.status) == ("offline", STATUS_OK)


@pytest.mark.parametrize(
    ("model", "vendor", "upstream_model"),
    [
        ("gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
        ("gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
    ],
)
async def test_stream_matches_non_stream(client, usage_events, model, vendor, upstream_model):
    plain = await client.chat.completions.create(model=model, messages=_user("tell me"))
    stream = await client.chat.completions.create(
        model=model,
        messages=_user("tell me"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    expected = "".join(reply_deltas(vendor, upstream_model, 5))
    assert plain.choices[0].message.content == expected
    assert plain.model.startswith(upstream_model)  # Gemini reports its version: "-001"
    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1
    assert "".join(c.choices[0].delta.content for c in content_chunks) == expected
    assert {c.id for c in chunks} == {f"chatcmpl-{stream.response.headers['x-request-id']}"}
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.total_tokens == plain.usage.total_tokens
    assert usage_chunk.usage.completion_tokens == plain.usage.completion_tokens

    plain_event, stream_event = await _events(usage_events, 2)
    assert plain_event.provider == stream_event.provider == vendor
    assert (stream_event.endpoint, stream_event.status) == (ENDPOINT, STATUS_OK)
    assert stream_event.streamed and stream_event.ttft_ms is not None


async def test_stream_without_include_usage_has_no_usage_chunk(client, usage_events):
    stream = await client.chat.completions.create(
        model="offline-echo", messages=[{"role": "user", "content": "a b c"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "[offline:offline-echo] You said: a b c"
    await _events(usage_events)


async def test_bad_token_is_an_authentication_error(live, usage_events):
    async with _client(live, "not-a-token") as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.chat.completions.create(model="gpt-4o", messages=_user("hi"))
        assert caught.value.status_code == 401
        assert caught.value.type == "authentication_error"
        assert set(caught.value.body) == {"message", "type", "param", "code"}
        with pytest.raises(openai.AuthenticationError):
            await sdk.models.list()
    assert usage_events == []


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"temperature": 5}, "temperature"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"tools": [{"type": "function", "function": {"name": "f f"}}]}, "tools[0].function"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0]"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "x"}]},
            "messages[1].tool_call_id",
        ),
        ({"model": ""}, "model"),
    ],
)
async def test_validation_errors_name_the_param(client, usage_events, extra, param):
    body = {"model": "gpt-4o", "messages": _user("hi"), **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(**body)
    error = caught.value
    assert error.status_code == 400
    assert error.type == "invalid_request_error" and error.code == "invalid_request"
    assert error.param.startswith(param)
    assert usage_events == []


async def test_unknown_provider_prefix_is_not_a_provider(client):
    # "models/gemini-..." is a Gemini model id, not the provider "models".
    completion = await client.chat.completions.create(
        model="models/gemini-2.5-flash", messages=_user("hi")
    )
    assert completion.choices[0].message.content


async def test_upstream_rate_limit_is_a_rate_limit_error(client, usage_events):
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model="gpt-4o", messages=_user("[[fake:status=429 retry_after=7]]")
        )
    assert caught.value.status_code == 429
    assert caught.value.type == "rate_limit_error"
    assert caught.value.response.headers["retry-after"] == "7"
    [event] = await _events(usage_events)
    assert (event.endpoint, event.status) == (ENDPOINT, STATUS_ERROR)
    assert event.error_code == caught.value.code


async def test_mid_stream_drop_raises_while_iterating(client, usage_events):
    stream = await client.chat.completions.create(
        model="gpt-4o",
        messages=_user("[[fake:chunks=10 drop_after=3]]"),
        stream=True,
        stream_options={"include_usage": True},
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "upstream_connection_error"
    assert len(received) == 3
    [event] = await _events(usage_events)
    assert (event.status, event.error_code, event.streamed) == (
        STATUS_ERROR,
        "upstream_connection_error",
        True,
    )
    assert event.usage is not None and event.usage.completion_tokens > 0


async def test_models_list(client):
    models = [model async for model in client.models.list()]
    owners = {model.id: model.owned_by for model in models}
    assert owners["gpt-4o"] == "openai"
    assert owners["claude-sonnet-4-5-20250929"] == "anthropic"
    assert owners["gemini-2.5-flash"] == "gemini"
    assert owners["offline-echo"] == "offline"  # the default model
    routes = ["simple", "moderate", "complex", "search", "auto"]
    assert [model.id for model in models][-5:] == routes
    assert {owners[route] for route in routes} == {"gateway"}
    assert all(model.object == "model" for model in models)


async def test_unknown_model_is_not_found_naming_the_models_served(client, usage_events):
    """No vendor prefix and no route names "foo-bar": 404 ``model_not_found`` (the SDK's
    NotFoundError), not an error about a provider the client never asked for."""
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="foo-bar", messages=_user("hi"))
    error = caught.value
    assert error.status_code == 404
    assert (error.code, error.type) == ("model_not_found", "invalid_request_error")
    assert "'foo-bar'" in error.message
    for served in ("gpt-4o", "claude-sonnet-4-5-20250929", "gemini-2.5-flash", "offline-echo"):
        assert served in error.message
    assert "'<provider>/<model>'" in error.message and "openai/foo-bar" in error.message
    assert usage_events == []


async def test_a_forced_provider_takes_any_model_name(client):
    completion = await client.chat.completions.create(model="offline/foo-bar", messages=_user("hi"))
    assert completion.choices[0].message.content == "[offline:foo-bar] You said: hi"


async def test_a_model_without_prefix_goes_to_the_route_naming_it(client, gateway_settings):
    gateway_settings.AI_DEFAULT_PROVIDER = "openai"
    gateway_settings.AI_DEFAULT_MODEL = "house-model"
    completion = await client.chat.completions.create(model="house-model", messages=_user("hi"))
    assert completion.choices[0].message.content == "".join(
        reply_deltas("openai", "house-model", 5)
    )


async def test_offline_answers_name_the_offline_model(client, usage_events):
    """Asked for a real model's name, the offline provider answers as the offline echo, and
    every place that shows a model says so: body, chunks, ledger row."""
    model = "offline/claude-sonnet-4-5-20250929"
    plain = await client.chat.completions.create(model=model, messages=_user("hi"))
    stream = await client.chat.completions.create(
        model=model, messages=_user("hi"), stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert plain.model == "offline-echo"
    assert plain.choices[0].message.content == "[offline:claude-sonnet-4-5-20250929] You said: hi"
    assert {c.model for c in chunks} == {"offline-echo"}
    for event in await _events(usage_events, 2):
        assert (event.provider, event.model) == ("offline", "offline-echo")
        assert event.requested_model == "claude-sonnet-4-5-20250929"
