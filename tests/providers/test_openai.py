"""The OpenAI provider, through the official SDK, against the fake upstream over real HTTP.

Every test runs once per HTTP transport (``transport`` fixture: httpx2 and aiohttp).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.exceptions import (
    ModelNotFoundError,
    RateLimitedError,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamPermissionError,
    UpstreamStreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ai.providers._http import sanitize
from ai.providers._sse import SSEDecoder
from ai.providers.base import USAGE_ESTIMATED, USAGE_REPORTED
from ai.providers.openai import OpenAIProvider
from ai.services import Message, Role, clear_llm_cache, get_llm_provider
from tests.fake_upstream import fake_prompt_tokens, reply_deltas
from tests.providers.conftest import assert_no_secret, closed_port_url, open_provider

KEY = "sk-test-openai"  # what upstream_settings configures
SYSTEM = "You are terse."


@pytest.fixture
async def provider(upstream_settings, transport):
    async with open_provider("openai") as provider:
        yield provider


def conversation(prompt: str) -> list[Message]:
    return [
        Message(Role.SYSTEM, SYSTEM),
        Message(Role.USER, "Earlier question"),
        Message(Role.ASSISTANT, "Earlier answer"),
        Message(Role.USER, prompt),
    ]


def prompt_tokens(messages: list[Message]) -> int:
    return fake_prompt_tokens(m.content for m in messages)


def expected_content(n: int = 5, model: str = "gpt-4o") -> str:
    return "".join(reply_deltas("openai", model, n))


async def drain(stream) -> list[str]:
    return [delta async for delta in stream]


# -- complete ---------------------------------------------------------------------------------


async def test_complete(provider):
    messages = conversation("Say hello [[fake:chunks=4]]")
    response = await provider.complete(messages, model="gpt-4o-mini")

    assert response.content == expected_content(4, "gpt-4o-mini")
    assert response.provider == "openai"
    assert response.model == "gpt-4o-mini"
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens == prompt_tokens(messages)
    assert response.usage.completion_tokens == 4
    assert response.usage.total_tokens == prompt_tokens(messages) + 4
    assert response.usage.source == USAGE_REPORTED
    assert response.upstream_request_id.startswith("req_")
    assert response.latency_ms > 0


async def test_complete_uses_default_model(provider):
    response = await provider.complete_simple("hi")
    assert response.model == OpenAIProvider.default_model == "gpt-4o"


async def test_complete_wire(provider, fake_upstream):
    messages = conversation("What went over the wire?")
    await provider.complete(messages, model="gpt-4o", temperature=0.25, max_tokens=64)

    [captured] = fake_upstream.requests
    assert captured.method == "POST"
    assert captured.path == "/v1/chat/completions"
    assert captured.headers["Authorization"] == f"Bearer {KEY}"
    assert captured.body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": SYSTEM},  # OpenAI keeps the system role inline
            {"role": "user", "content": "Earlier question"},
            {"role": "assistant", "content": "Earlier answer"},
            {"role": "user", "content": "What went over the wire?"},
        ],
        "temperature": 0.25,
        "max_completion_tokens": 64,
    }


async def test_optional_params_are_not_sent(provider, fake_upstream):
    await provider.complete_simple("hi")
    body = fake_upstream.requests[0].body
    assert set(body) == {"model", "messages"}


async def test_finish_length(provider):
    response = await provider.complete_simple("long [[fake:finish=length]]")
    assert response.finish_reason == "length"


async def test_cached_and_reasoning_tokens(provider):
    messages = [Message(Role.USER, "think hard about it [[fake:cached=3 reasoning=2]]")]
    response = await provider.complete(messages)
    assert response.usage.prompt_tokens == prompt_tokens(messages)  # cached is part of prompt
    assert response.usage.cached_tokens == 3
    assert response.usage.reasoning_tokens == 2
    assert response.usage.completion_tokens == 5


async def test_complete_without_usage_is_estimated(provider):
    response = await provider.complete_simple("hi [[fake:no_usage=1]]")
    assert response.content == expected_content()
    assert response.usage.source == USAGE_ESTIMATED
    assert response.usage.completion_tokens > 0


# -- stream -----------------------------------------------------------------------------------


async def test_stream(provider, fake_upstream):
    messages = conversation("Stream please [[fake:chunks=6]]")
    complete = await provider.complete(messages)
    stream = provider.stream(messages)
    deltas = await drain(stream)

    assert deltas == reply_deltas("openai", "gpt-4o", 6)
    assert stream.content == complete.content
    assert stream.completed
    response = stream.response
    assert response.usage.prompt_tokens == prompt_tokens(messages)
    assert response.usage.completion_tokens == 6
    assert response.usage.source == USAGE_REPORTED
    assert response.finish_reason == "stop"
    assert response.model == "gpt-4o"
    assert response.upstream_request_id.startswith("req_")
    assert stream.ttft_ms is not None and stream.ttft_ms > 0
    assert response.latency_ms >= stream.ttft_ms


async def test_stream_wire(provider, fake_upstream):
    await drain(provider.stream(conversation("hi"), temperature=0.5, max_tokens=32))
    captured = fake_upstream.requests[0]
    assert captured.path == "/v1/chat/completions"
    assert captured.headers["Authorization"] == f"Bearer {KEY}"
    assert captured.body["stream"] is True
    assert captured.body["stream_options"] == {"include_usage": True}
    assert captured.body["temperature"] == 0.5
    assert captured.body["max_completion_tokens"] == 32
    assert captured.body["messages"][0] == {"role": "system", "content": SYSTEM}


async def test_stream_finish_length_cached_reasoning(provider):
    stream = provider.stream_simple("x [[fake:finish=length cached=2 reasoning=1]]")
    await drain(stream)
    assert stream.response.finish_reason == "length"
    assert stream.response.usage.cached_tokens == 2
    assert stream.response.usage.reasoning_tokens == 1


async def test_stream_without_usage_is_estimated(provider):
    stream = provider.stream_simple("hi [[fake:no_usage=1]]")
    await drain(stream)
    assert stream.completed
    usage = stream.usage_so_far()
    assert usage.source == USAGE_ESTIMATED
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


async def test_stream_start_raises_before_any_delta(provider):
    stream = provider.stream_simple("x [[fake:status=429 retry_after=3]]")
    with pytest.raises(RateLimitedError):
        await stream.start()
    assert stream.content == "" and stream.first_chunk_at is None


async def test_mid_stream_drop(provider):
    stream = provider.stream_simple("x [[fake:drop_after=2]]")
    received: list[str] = []
    with pytest.raises(UpstreamConnectionError) as info:
        async for delta in stream:
            received.append(delta)
    assert received == reply_deltas("openai", "gpt-4o", 2)
    assert not stream.completed
    assert stream.finish_reason == "error"
    assert info.value.request_id and info.value.request_id.startswith("req_")
    usage = stream.usage_so_far()
    assert usage.source == USAGE_ESTIMATED
    assert usage.completion_tokens >= 1


async def test_in_band_stream_error(provider):
    stream = provider.stream_simple("x [[fake:error_after=1]]")
    received: list[str] = []
    with pytest.raises(UpstreamStreamError) as info:
        async for delta in stream:
            received.append(delta)
    assert received == reply_deltas("openai", "gpt-4o", 1)
    assert not stream.completed
    assert info.value.provider == "openai" and info.value.request_id.startswith("req_")
    assert "server_error" in info.value.message


async def test_aclose_mid_stream(provider):
    stream = provider.stream_simple("x [[fake:chunks=20 chunk_delay=0.05]]")
    await stream.start()
    started = time.perf_counter()
    await stream.aclose()
    assert time.perf_counter() - started < 0.5  # did not wait for the other 19 deltas
    assert not stream.completed
    # The pool is healthy afterwards.
    response = await provider.complete_simple("again")
    assert response.content == expected_content()


async def test_cancelled_consumer_closes_the_stream(provider):
    stream = provider.stream_simple("x [[fake:chunks=20 chunk_delay=0.05]]")
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in stream:
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert not stream.completed
    assert (await provider.complete_simple("again")).content == expected_content()


async def test_concurrent_streams(provider):
    streams = [provider.stream_simple(f"n{i} [[fake:chunk_delay=0.01]]") for i in range(20)]
    results = await asyncio.gather(*(drain(s) for s in streams))
    assert all("".join(r) == expected_content() for r in results)


# -- errors -----------------------------------------------------------------------------------

STATUS_CASES = [
    (400, UpstreamBadRequestError, False),
    (403, UpstreamPermissionError, False),
    (404, ModelNotFoundError, False),
    (500, UpstreamUnavailableError, True),
    (503, UpstreamUnavailableError, True),
]


@pytest.mark.parametrize(("status", "error", "retryable"), STATUS_CASES)
async def test_status_errors(provider, status, error, retryable):
    with pytest.raises(error) as info:
        await provider.complete_simple(f"x [[fake:status={status}]]")
    err = info.value
    assert type(err) is error
    assert err.retryable is retryable
    assert (err.provider, err.model, err.upstream_status) == ("openai", "gpt-4o", status)
    assert err.request_id.startswith("req_")
    assert "OpenAI" in err.message

    stream = provider.stream_simple(f"x [[fake:status={status}]]")
    with pytest.raises(error):
        await stream.start()
    assert stream.content == ""


async def test_bad_request_keeps_the_upstream_reason(provider):
    with pytest.raises(UpstreamBadRequestError) as info:
        await provider.complete_simple("x [[fake:status=400]]")
    assert info.value.message.endswith(": Fake OpenAI error 400")


async def test_bad_key(upstream_settings, transport):
    upstream_settings.OPENAI_API_KEY = "bad-key"
    clear_llm_cache()
    async with open_provider("openai") as provider:
        with pytest.raises(UpstreamAuthenticationError) as info:
            await provider.complete_simple("hi")
        assert info.value.upstream_status == 401 and not info.value.retryable
        assert "invalid_api_key" in info.value.message
        assert_no_secret(info.value, "bad-key")
        stream = provider.stream_simple("hi")
        with pytest.raises(UpstreamAuthenticationError) as info:
            await stream.start()
        assert_no_secret(info.value, "bad-key")


@pytest.mark.parametrize(
    ("directive", "expected"), [("retry_after=7", 7.0), ("retry_after_ms=250", 0.25)]
)
async def test_rate_limited(provider, directive, expected):
    with pytest.raises(RateLimitedError) as info:
        await provider.complete_simple(f"x [[fake:status=429 {directive}]]")
    assert info.value.retry_after == expected
    assert info.value.retryable
    assert "rate_limit_exceeded" in info.value.message


async def test_timeout(upstream_settings, transport):
    upstream_settings.AI_REQUEST_TIMEOUT = 0.3
    clear_llm_cache()
    async with open_provider("openai") as provider:
        started = time.perf_counter()
        with pytest.raises(UpstreamTimeoutError):
            await provider.complete_simple("slow [[fake:delay=1]]")
        assert time.perf_counter() - started < 0.9
        with pytest.raises(UpstreamTimeoutError):
            await provider.stream_simple("slow [[fake:delay=1]]").start()
        # A stream that stalls between deltas times out too (read timeout per chunk).
        stream = provider.stream_simple("stall [[fake:chunks=3 chunk_delay=1]]")
        with pytest.raises(UpstreamTimeoutError):
            await drain(stream)
        assert not stream.completed


async def test_connection_refused(upstream_settings, transport):
    upstream_settings.OPENAI_BASE_URL = closed_port_url("/v1")
    clear_llm_cache()
    async with open_provider("openai") as provider:
        with pytest.raises(UpstreamConnectionError) as info:
            await provider.complete_simple("hi")
        assert info.value.retryable
        with pytest.raises(UpstreamConnectionError):
            await provider.stream_simple("hi").start()


async def test_drop_before_response(provider):
    with pytest.raises(UpstreamConnectionError):
        await provider.complete_simple("x [[fake:drop_after=0]]")
    stream = provider.stream_simple("x [[fake:drop_after=0]]")
    with pytest.raises(UpstreamConnectionError):
        await stream.start()
    assert not stream.completed


async def test_no_error_message_contains_the_key(provider):
    for directive in ("status=400", "status=403", "status=429", "status=503", "drop_after=0"):
        with pytest.raises(UpstreamError) as info:
            await provider.complete_simple(f"x [[fake:{directive}]]")
        assert_no_secret(info.value, KEY)


def test_sanitize_strips_keys():
    text = "bad value near sk-proj-abcdEFGH1234 and AIzaSyA1234567890abcdef and my-secret-value"
    cleaned = sanitize(text, "my-secret-value")
    for secret in ("sk-proj-abcdEFGH1234", "AIzaSyA1234567890abcdef", "my-secret-value"):
        assert secret not in cleaned
    assert cleaned.startswith("bad value near [redacted]")
    assert len(sanitize("x" * 2000)) == 500


# -- configuration and lifecycle --------------------------------------------------------------


async def test_environment_is_ignored(provider, fake_upstream, monkeypatch):
    # The SDK would read these; the gateway is configured by Django settings only.
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-From-Env: 1\nAuthorization: Bearer sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url("/v1"))
    await provider.aclose()  # the next call builds a client now, with the env set
    await provider.complete_simple("hi")
    headers = {k.lower(): v for k, v in fake_upstream.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {KEY}"
    assert not {"openai-organization", "openai-project", "x-from-env"} & set(headers)


def test_unknown_transport_is_a_configuration_error(upstream_settings):
    upstream_settings.AI_HTTP_TRANSPORT = "curl"
    clear_llm_cache()
    with pytest.raises(ImproperlyConfigured, match="AI_HTTP_TRANSPORT"):
        get_llm_provider("openai")


async def test_client_per_loop_and_aclose(provider):
    client = provider.client
    assert provider.client is client
    await provider.aclose()
    assert provider.client is not client  # a fresh client after aclose
    assert (await provider.complete_simple("hi")).content == expected_content()


def test_works_across_event_loops(upstream_settings, transport):
    provider = get_llm_provider("openai")
    clients = []

    async def call(close: bool) -> str:
        response = await provider.complete_simple("hi")
        clients.append(provider.client)
        if close:
            await provider.aclose()
        else:
            # Close the transport but leave the client registered for this loop: if the provider
            # wrongly reused it in the next loop, that call would fail.
            await provider.client.close()
        return response.content

    assert asyncio.run(call(close=False)) == expected_content()
    assert asyncio.run(call(close=True)) == expected_content()
    assert clients[0] is not clients[1]


# -- SSE decoding -----------------------------------------------------------------------------


def test_sse_decoder_follows_the_spec():
    decoder = SSEDecoder()
    stream = (
        b": a comment\r\n"
        b"event: update\r\ndata: first\r\ndata:second\r\n\r\n"
        b"id: 7\nretry: 10\n\n"  # no data: not dispatched
        b"data: split"
    )
    events = []
    # Feed one byte at a time: CRLF and every field split across chunks.
    for i in range(len(stream)):
        events += decoder.feed(stream[i : i + 1])
    assert events == [("update", b"first\nsecond")]
    events = decoder.feed(b" across\r")
    assert events == []
    # CRLF ends the line; a lone CR is held back (it may be half a CRLF) ...
    assert decoder.feed(b"\n\r") == []
    # ... and, not followed by LF, it ends a line of its own: the blank line that dispatches.
    assert decoder.feed(b"data: [DONE]\n\n") == [(None, b"split across"), (None, b"[DONE]")]


@pytest.mark.parametrize(
    "events",
    [
        [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"],
        # An event name in its own read, then its data: the name goes with that data only.
        [b"data: a\n\n", b"event: ping\n", b"data: b\n\n", b"data: c\n\n"],
        # Shapes that look whole but are not one plain data event.
        [b"data: x\n\n", b"data: y\ndata: z\n\n", b"data:  two spaces\n\n", b"data: \n\n"],
        [b"data: x\n\n", b"data: cr\r\n\r\n", b"data: half", b"\n\n", b"data: w\n\n"],
        [b"data: x\n\n", b"data: two\n\ndata: in one\n\n", b"\n", b"data: last\n\n"],
    ],
)
def test_whole_data_events_decode_as_byte_by_byte(events):
    """The decoder's shortcut for a read holding exactly one ``data:`` event gives what the
    line-by-line path gives (fed a byte at a time, it never takes the shortcut)."""
    body = b"".join(events)
    slow = SSEDecoder()
    expected = [event for i in range(len(body)) for event in slow.feed(body[i : i + 1])]
    fast = SSEDecoder()
    assert [event for chunk in events for event in fast.feed(chunk)] == expected
    assert expected  # the cases do decode to something


async def test_a_started_stream_no_longer_holds_the_chat(provider):
    """Once the first delta came, neither the stream nor the provider's generator keeps the
    messages (a held stream would keep a whole chat history alive to its end); a cut stream
    still estimates its prompt."""
    import gc

    from ai.providers.base import Message

    marker = "held-chat-marker " * 100
    stream = provider.stream(conversation(marker + "[[fake:chunks=4]]"))
    await stream.start()
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is Message and marker in o.content]
    assert alive == []
    estimate = stream.usage_so_far().prompt_tokens
    assert estimate >= len(marker) // 4
    await stream.aclose()
