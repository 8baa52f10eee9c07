"""AnthropicProvider through the official anthropic SDK against the fake upstream, over real HTTP,
once per HTTP transport (httpx2, aiohttp)."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from ai.exceptions import (
    ModelNotFoundError,
    RateLimitedError,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamPermissionError,
    UpstreamStreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ai.providers._http import sanitize
from ai.providers._sse import aiter_sse as iter_sse
from ai.providers.anthropic import AnthropicProvider
from ai.services import Message, Role, clear_llm_cache, get_llm_provider
from tests.fake_upstream import fake_prompt_tokens, reply_deltas
from tests.providers.conftest import assert_no_secret, closed_port_url, open_provider

MODEL = "claude-test"
KEY = "sk-ant-test-anthropic"  # what upstream_settings configures
SYSTEM = "You are terse."


def convo(user: str = "Say hello to me") -> list[Message]:
    return [
        Message(Role.SYSTEM, SYSTEM),
        Message(Role.USER, "Hi there"),
        Message(Role.ASSISTANT, "Hello!"),
        Message(Role.USER, user),
    ]


def prompt_tokens(messages: list[Message]) -> int:
    return fake_prompt_tokens(m.content for m in messages)


def deltas(n: int = 5, model: str = MODEL) -> list[str]:
    return reply_deltas("anthropic", model, n)


@pytest.fixture
async def provider(upstream_settings, transport):
    async with open_provider("anthropic") as provider:
        yield provider


async def collect(stream) -> tuple[list[str], Exception | None]:
    received: list[str] = []
    try:
        async for chunk in stream:
            received.append(chunk)
    except Exception as exc:
        return received, exc
    return received, None


# -- complete --------------------------------------------------------------------------------


async def test_complete(provider, fake_upstream):
    messages = convo()
    response = await provider.complete(messages, model=MODEL, temperature=0.3, max_tokens=77)

    assert response.content == "".join(deltas())
    assert response.provider == "anthropic"
    assert response.model == MODEL
    assert response.finish_reason == "stop"
    assert response.upstream_request_id.startswith("req_")
    assert response.latency_ms > 0
    prompt = prompt_tokens(messages)
    assert response.usage.as_dict() == {
        "prompt_tokens": prompt,
        "completion_tokens": 5,
        "total_tokens": prompt + 5,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cache_write_tokens": 0,
        "source": "reported",
    }


async def test_complete_wire(provider, fake_upstream):
    await provider.complete(convo(), model=MODEL, temperature=0.3, max_tokens=77)

    [captured] = fake_upstream.requests
    assert captured.method == "POST"
    assert captured.path == "/v1/messages"
    assert captured.headers["Authorization"] == f"Bearer {KEY}"
    assert captured.headers["x-stainless-retry-count"] == "0"
    assert captured.body == {
        "model": MODEL,
        "max_tokens": 77,
        "system": SYSTEM,
        "messages": [
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Say hello to me"},
        ],
        "temperature": 0.3,
    }


async def test_defaults_on_the_wire(provider, fake_upstream):
    response = await provider.complete([Message(Role.USER, "hello")])

    assert response.model == AnthropicProvider.default_model
    [captured] = fake_upstream.requests
    # max_tokens is required by the API: the default fills in; nothing else is invented.
    assert captured.body == {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hello"}],
    }


async def test_settings_not_environment(provider, fake_upstream, monkeypatch):
    # The SDK reads these when not given explicitly; the provider passes everything itself.
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Leak: yes")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", closed_port_url())

    await provider.complete(convo(), model=MODEL)

    [captured] = fake_upstream.requests
    assert captured.headers["Authorization"] == f"Bearer {KEY}"
    assert "X-Leak" not in captured.headers


async def test_finish_length(provider):
    response = await provider.complete(convo("go [[fake:finish=length]]"), model=MODEL)
    assert response.finish_reason == "length"

    stream = provider.stream(convo("go [[fake:finish=length]]"), model=MODEL)
    received, error = await collect(stream)
    assert received == deltas()
    assert error is None
    assert stream.finish_reason == "length"


async def test_cached_and_reasoning_tokens(provider):
    messages = convo("think [[fake:cached=3 reasoning=2]]")
    prompt = prompt_tokens(messages)
    expected = {
        "prompt_tokens": prompt,
        "completion_tokens": 7,
        "total_tokens": prompt + 7,
        "cached_tokens": 3,
        "reasoning_tokens": 2,
        "cache_write_tokens": 0,
        "source": "reported",
    }

    response = await provider.complete(messages, model=MODEL)
    assert response.usage.as_dict() == expected

    stream = provider.stream(messages, model=MODEL)
    _, error = await collect(stream)
    assert error is None
    assert stream.usage_so_far().as_dict() == expected


async def test_complete_without_usage_is_estimated(provider):
    response = await provider.complete(convo("x [[fake:no_usage=1]]"), model=MODEL)
    assert response.content == "".join(deltas())
    assert response.usage.source == "estimated"
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0


# -- stream ----------------------------------------------------------------------------------


async def test_stream(provider, fake_upstream):
    messages = convo()
    stream = provider.stream(messages, model=MODEL, max_tokens=50)
    received, error = await collect(stream)

    assert error is None
    assert received == deltas()
    assert stream.completed
    assert stream.finish_reason == "stop"
    assert stream.model == MODEL
    assert stream.upstream_request_id.startswith("req_")
    assert stream.ttft_ms is not None and stream.ttft_ms > 0
    prompt = prompt_tokens(messages)
    assert stream.usage_so_far() == stream.response.usage
    assert stream.response.usage.as_dict() == {
        "prompt_tokens": prompt,
        "completion_tokens": 5,
        "total_tokens": prompt + 5,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cache_write_tokens": 0,
        "source": "reported",
    }
    assert fake_upstream.requests[0].body["stream"] is True
    assert fake_upstream.requests[0].body["max_tokens"] == 50

    response = await provider.complete(messages, model=MODEL)
    assert stream.content == response.content


async def test_stream_many_chunks(provider):
    stream = provider.stream(convo("[[fake:chunks=40]]"), model=MODEL)
    received, error = await collect(stream)
    assert error is None
    assert received == deltas(40)
    assert stream.usage.completion_tokens == 40


async def test_stream_without_usage_is_estimated(provider):
    stream = provider.stream(convo("x [[fake:no_usage=1]]"), model=MODEL)
    received, error = await collect(stream)

    assert error is None
    assert received == deltas()
    assert stream.completed
    usage = stream.usage_so_far()
    assert usage.source == "estimated"
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


# -- errors ----------------------------------------------------------------------------------

STATUS_ERRORS = [
    (400, UpstreamBadRequestError, "invalid_request_error"),
    (403, UpstreamPermissionError, "permission_error"),
    (404, ModelNotFoundError, "not_found_error"),
    (429, RateLimitedError, "rate_limit_error"),
    (500, UpstreamUnavailableError, "api_error"),
    (503, UpstreamUnavailableError, "api_error"),
    (504, UpstreamTimeoutError, "timeout_error"),
    (529, UpstreamUnavailableError, "overloaded_error"),
]


def assert_status_error(err, status: int, kind: str) -> None:
    assert err.provider == "anthropic"
    assert err.model == MODEL
    assert err.upstream_status == status
    assert err.request_id.startswith("req_")
    assert kind in err.message
    assert_no_secret(err, KEY)


@pytest.mark.parametrize(("status", "error_class", "kind"), STATUS_ERRORS)
async def test_status_errors_complete(provider, status, error_class, kind):
    with pytest.raises(error_class) as caught:
        await provider.complete(convo(f"[[fake:status={status}]]"), model=MODEL)
    assert_status_error(caught.value, status, kind)


@pytest.mark.parametrize(("status", "error_class", "kind"), STATUS_ERRORS)
async def test_status_errors_at_stream_start(provider, status, error_class, kind):
    stream = provider.stream(convo(f"[[fake:status={status}]]"), model=MODEL)
    with pytest.raises(error_class) as caught:
        await stream.start()
    assert_status_error(caught.value, status, kind)
    assert stream.content == ""
    assert stream.error is caught.value
    assert not stream.completed


async def test_bad_request_keeps_upstream_explanation(provider):
    with pytest.raises(UpstreamBadRequestError) as caught:
        await provider.complete(convo("[[fake:status=400]]"), model=MODEL)
    assert "Fake Anthropic error 400" in caught.value.message


def test_sanitize_strips_keys(settings):
    settings.ANTHROPIC_API_KEY = "secret-value-123"
    text = sanitize(
        "bad key sk-ant-api03-abcdefgh and AIzaSyABCDEFG and secret-value-123 here",
        settings.ANTHROPIC_API_KEY,
    )
    assert "sk-ant" not in text and "AIza" not in text and "secret-value-123" not in text
    assert text.startswith("bad key [redacted]")


@pytest.mark.parametrize("seconds", [7, 0.5])
async def test_rate_limit_retry_after(provider, seconds):
    with pytest.raises(RateLimitedError) as caught:
        await provider.complete(convo(f"[[fake:status=429 retry_after={seconds}]]"), model=MODEL)
    assert caught.value.retry_after == seconds
    assert caught.value.retryable

    stream = provider.stream(convo(f"[[fake:status=429 retry_after={seconds}]]"), model=MODEL)
    with pytest.raises(RateLimitedError) as caught:
        await stream.start()
    assert caught.value.retry_after == seconds


async def test_overloaded_is_retryable_with_retry_after(provider):
    with pytest.raises(UpstreamUnavailableError) as caught:
        await provider.complete(convo("[[fake:status=529 retry_after=2]]"), model=MODEL)
    assert caught.value.retryable
    assert caught.value.retry_after == 2
    assert "overloaded_error" in caught.value.message


async def test_bad_key(upstream_settings, transport):
    upstream_settings.ANTHROPIC_API_KEY = "bad-key"
    clear_llm_cache()
    async with open_provider("anthropic") as provider:
        with pytest.raises(UpstreamAuthenticationError) as caught:
            await provider.complete(convo(), model=MODEL)
        assert caught.value.upstream_status == 401
        assert "authentication_error" in caught.value.message
        assert_no_secret(caught.value, "bad-key")

        stream = provider.stream(convo(), model=MODEL)
        with pytest.raises(UpstreamAuthenticationError):
            await stream.start()
        assert_no_secret(stream.error, "bad-key")


async def test_timeout(upstream_settings, transport):
    upstream_settings.AI_REQUEST_TIMEOUT = 0.3
    clear_llm_cache()
    async with open_provider("anthropic") as provider:
        with pytest.raises(UpstreamTimeoutError) as caught:
            await provider.complete(convo("[[fake:delay=1]]"), model=MODEL)
        assert caught.value.retryable
        assert caught.value.model == MODEL

        stream = provider.stream(convo("[[fake:delay=1]]"), model=MODEL)
        with pytest.raises(UpstreamTimeoutError):
            await stream.start()


async def test_connection_refused(upstream_settings, transport):
    upstream_settings.ANTHROPIC_BASE_URL = closed_port_url()
    clear_llm_cache()
    async with open_provider("anthropic") as provider:
        with pytest.raises(UpstreamConnectionError) as caught:
            await provider.complete(convo(), model=MODEL)
        assert caught.value.provider == "anthropic"
        assert_no_secret(caught.value, KEY)

        stream = provider.stream(convo(), model=MODEL)
        with pytest.raises(UpstreamConnectionError):
            await stream.start()


async def test_drop_before_response(provider):
    with pytest.raises(UpstreamConnectionError):
        await provider.complete(convo("[[fake:drop_after=0]]"), model=MODEL)

    stream = provider.stream(convo("[[fake:drop_after=0]]"), model=MODEL)
    with pytest.raises(UpstreamConnectionError):
        await stream.start()
    assert stream.content == ""


async def test_drop_mid_stream(provider):
    messages = convo("[[fake:drop_after=2]]")
    stream = provider.stream(messages, model=MODEL)
    received, error = await collect(stream)

    assert received == deltas(2)
    assert isinstance(error, UpstreamConnectionError)
    assert error.request_id == stream.upstream_request_id
    assert error.request_id.startswith("req_")
    assert_no_secret(error, KEY)
    assert not stream.completed
    assert stream.error is error
    assert stream.finish_reason == "error"
    usage = stream.usage_so_far()
    assert usage.source == "estimated"
    # message_start's input count arrived before the cut; the output is estimated from the text.
    assert usage.prompt_tokens == prompt_tokens(messages)
    assert usage.completion_tokens >= 1
    with pytest.raises(RuntimeError):
        stream.response  # noqa: B018


async def test_stream_ending_without_message_stop_is_not_complete(upstream_settings, monkeypatch):
    # A body that ends cleanly but early (a proxy closing the stream): the fake cannot send
    # that, so this one test answers through httpx2.MockTransport instead of the socket.
    from ai.providers import anthropic as module

    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"model":"m",'
        b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    )

    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream", "request-id": "req_cut"}
        return httpx2.Response(200, headers=headers, content=body)

    monkeypatch.setattr(
        module,
        "_http_client",
        lambda timeout: httpx2.AsyncClient(transport=httpx2.MockTransport(answer)),
    )
    clear_llm_cache()
    async with open_provider("anthropic") as provider:
        stream = provider.stream(convo(), model=MODEL)
        received, error = await collect(stream)
    assert received == ["Hi"]
    assert isinstance(error, UpstreamConnectionError)
    assert "message_stop" in error.message
    assert error.request_id == "req_cut"
    assert not stream.completed
    assert stream.usage_so_far().prompt_tokens == 3


async def test_in_band_error(provider):
    stream = provider.stream(convo("[[fake:error_after=1]]"), model=MODEL)
    received, error = await collect(stream)

    assert received == deltas(1)
    assert isinstance(error, UpstreamStreamError)
    assert "overloaded_error" in error.message
    assert error.provider == "anthropic"
    assert error.request_id.startswith("req_")
    assert not stream.completed
    assert stream.usage_so_far().source == "estimated"


async def test_aclose_mid_stream(provider, fake_upstream):
    stream = provider.stream(convo("[[fake:chunks=50 chunk_delay=0.02]]"), model=MODEL)
    received = []
    async for chunk in stream:
        received.append(chunk)
        if len(received) == 2:
            break
    await stream.aclose()

    assert received == deltas(2)
    assert not stream.completed
    assert stream.usage_so_far().source == "estimated"
    # The provider still works: the closed response did not poison the pool.
    response = await provider.complete(convo(), model=MODEL)
    assert response.content == "".join(deltas())


async def test_cancelled_stream_closes(provider):
    stream = provider.stream(convo("[[fake:chunks=50 chunk_delay=0.05]]"), model=MODEL)
    await stream.start()

    async def consume():
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert not stream.completed
    response = await provider.complete(convo(), model=MODEL)
    assert response.finish_reason == "stop"


def test_two_event_loops(upstream_settings, transport):
    provider = get_llm_provider("anthropic")
    clients = []

    async def call():
        response = await provider.complete(convo(), model=MODEL)
        stream = provider.stream(convo(), model=MODEL)
        received, error = await collect(stream)
        clients.append(provider._clients.current())
        await provider.aclose()
        return response.content, "".join(received), error

    first = asyncio.run(call())
    second = asyncio.run(call())
    expected = "".join(deltas())
    assert first == second == (expected, expected, None)
    assert clients[0] is not clients[1]


# -- the fake's wire and the SSE parser ------------------------------------------------------


async def test_fake_sse_framing_and_x_api_key(fake_upstream):
    async with httpx2.AsyncClient(base_url=fake_upstream.url) as client:
        body = {
            "model": MODEL,
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "hi [[fake:chunks=2]]"}],
        }
        response = await client.post("/v1/messages", json=body, headers={"x-api-key": "k"})
        assert response.status_code == 200
        names = [
            line[len("event: ") :]
            for line in response.text.split("\n")
            if line.startswith("event: ")
        ]
        frames = [f for f in response.text.split("\n\n") if f]
        assert all(frame.startswith("event: ") for frame in frames)
        assert names == [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]

        response = await client.post("/v1/messages", json=body, headers={"x-api-key": "bad-key"})
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["request-id"] == response.json()["request_id"]
        response = await client.post("/v1/messages", json=body)
        assert response.status_code == 401


def _reader(*parts: bytes):
    """A body reader (``ai._compat.aiohttp_body.reader``'s shape) returning ``parts``, then b""."""
    pending = list(parts)

    async def read() -> bytes:
        return pending.pop(0) if pending else b""

    return read


async def sse(*parts: bytes) -> list[tuple[str, bytes]]:
    return [event async for event in iter_sse(_reader(*[p for p in parts if p]))]


async def test_iter_sse_follows_the_spec():
    assert await sse(b"event: a\ndata: 1\n\n") == [("a", b"1")]
    # CRLF and CR line ends, split anywhere, including between CR and LF.
    assert await sse(b"event: a\r", b"\ndata: 1\r\n\r", b"\n", b"data:2\r\rdata: 3\n\n") == [
        ("a", b"1"),
        ("message", b"2"),
        ("message", b"3"),
    ]
    # Multi-line data joins with LF; comments and unknown fields are ignored.
    assert await sse(b": comment\nid: 7\ndata: x\ndata:  y\nretry: 5\n\n") == [
        ("message", b"x\n y")
    ]
    # No data: nothing dispatched, and the event name does not leak into the next event.
    assert await sse(b"event: ping\n\ndata: z\n\n") == [("message", b"z")]
    # An event cut off at the end of the body is discarded.
    assert await sse(b"data: whole\n\n", b"event: a\ndata: half") == [("message", b"whole")]
    assert await sse(b"data: a\r\r") == [("message", b"a")]
