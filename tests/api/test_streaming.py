"""Server-sent events: deltas, the done event and [DONE]; errors before the first byte as JSON;
errors after it as an error frame without [DONE]; disconnects close the upstream."""

from __future__ import annotations

import asyncio

import pytest

from ai.usage.events import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK
from tests.api.conftest import CHAT, COMPLETIONS, ROUTED
from tests.api.sse_client import parse_sse, split_stream

pytestmark = pytest.mark.django_db(transaction=True)

DONE_KEYS = {
    "type", "id", "model", "provider", "finish_reason", "usage", "latency_ms", "ttft_ms", "cost",
}  # fmt: skip


async def _read(response) -> bytes:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert response["X-Request-ID"]
    return b"".join([chunk async for chunk in response.streaming_content])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (COMPLETIONS, {"messages": [{"role": "user", "content": "tell me a story"}]}),
        (CHAT, {"prompt": "tell me a story", "system": "Be kind."}),
        (ROUTED, {"prompt": "tell me a story", "complexity": "simple"}),
    ],
)
async def test_stream_matches_the_non_streamed_answer(api, usage_events, user, path, body):
    plain = (await api.post(path, body)).json()
    response = await api.post(
        path, {**body, "stream": True}, headers={"accept": "text/event-stream"}
    )
    deltas, done, finished, error = split_stream(parse_sse(await _read(response)))

    assert error is None and finished
    assert len(deltas) > 1
    assert "".join(deltas) == plain["content"]
    expected_keys = DONE_KEYS | ({"complexity"} if path == ROUTED else set())
    assert set(done) == expected_keys
    assert done["id"] == response["X-Request-ID"]
    assert (done["provider"], done["model"], done["finish_reason"]) == (
        plain["provider"],
        plain["model"],
        plain["finish_reason"],
    )
    assert done["usage"] == plain["usage"]
    assert done["ttft_ms"] is not None and done["ttft_ms"] <= done["latency_ms"]

    stream_event = usage_events[-1]
    assert (stream_event.request_id, stream_event.status) == (done["id"], STATUS_OK)
    assert stream_event.streamed is True and stream_event.ttft_ms is not None
    assert stream_event.user_id == user.pk
    assert stream_event.usage.total_tokens == done["usage"]["total_tokens"]


async def test_frames_are_exactly_as_documented(api, scripted_provider):
    response = await api.post(CHAT, {"prompt": "hi", "provider": "scripted", "stream": True})
    raw = await _read(response)
    assert raw.startswith(b'data: {"type":"delta","content":"scripted answer"}\n\n')
    assert raw.endswith(b"}\n\ndata: [DONE]\n\n")
    assert raw.count(b"data: [DONE]") == 1


async def test_newlines_in_content_stay_inside_one_data_line(api):
    response = await api.post(CHAT, {"prompt": "line one\nline two", "stream": True})
    frames = parse_sse(await _read(response))
    deltas, _, finished, _ = split_stream(frames)
    assert "line one\nline two" in "".join(deltas)
    assert finished


async def test_error_before_first_byte_is_plain_json(api, scripted_provider, usage_events):
    response = await api.post(
        CHAT,
        {"prompt": "[[raise:rate_limited retry_after=3]]", "provider": "scripted", "stream": True},
        headers={"accept": "text/event-stream"},
    )
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "3"
    assert response.json()["error"]["code"] == "rate_limited"
    assert [(e.status, e.streamed) for e in usage_events] == [(STATUS_ERROR, True)]


@pytest.mark.parametrize(
    "code", ["upstream_connection_error", "upstream_stream_error", "rate_limited"]
)
async def test_error_after_first_byte_is_an_error_frame_without_done(
    api, scripted_provider, usage_events, code
):
    response = await api.post(
        CHAT, {"prompt": f"[[midstream:{code}]]", "provider": "scripted", "stream": True}
    )
    raw = await _read(response)
    frames = parse_sse(raw)
    deltas, done, finished, error = split_stream(frames)
    assert deltas == ["partial ", "answer "]
    assert done is None and not finished
    assert frames[-1].event == "error"
    assert error["error"]["code"] == code
    assert error["error"]["message"]
    assert error["id"] == response["X-Request-ID"]
    assert b"[DONE]" not in raw

    [event] = usage_events
    assert (event.status, event.error_code, event.streamed) == (STATUS_ERROR, code, True)
    # What was produced before the failure is counted (estimated: the upstream never said).
    assert event.usage.completion_tokens > 0
    assert event.usage.source == "estimated"
    assert scripted_provider.CLOSED  # the upstream generator was closed


async def test_client_disconnect_closes_upstream_and_records_cancelled(
    api, scripted_provider, usage_events
):
    """Django's ASGI handler consumes ``aiter(response)`` and closes it when the client goes;
    the same is done here, after the first frame."""
    response = await api.post(CHAT, {"prompt": "[[slow]]", "provider": "scripted", "stream": True})
    frames = aiter(response)
    first = await anext(frames)
    assert first.startswith(b'data: {"type":"delta"')
    await frames.aclose()

    assert scripted_provider.CLOSED == ["[[slow]]"]
    [event] = usage_events
    assert (event.status, event.streamed, event.error_code) == (STATUS_CANCELLED, True, "")
    assert event.usage is not None and event.usage.completion_tokens >= 1


async def test_cancellation_while_waiting_for_upstream_records_cancelled(
    api, scripted_provider, usage_events
):
    """The handler cancels the response task when the client disconnects; the CancelledError
    arrives while the relay awaits the upstream's next delta."""
    response = await api.post(CHAT, {"prompt": "[[slow]]", "provider": "scripted", "stream": True})
    received = []

    async def consume():
        async for frame in aiter(response):
            received.append(frame)

    task = asyncio.create_task(consume())
    while len(received) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert scripted_provider.CLOSED == ["[[slow]]"]
    [event] = usage_events
    assert event.status == STATUS_CANCELLED


async def test_non_streaming_cancellation_records_cancelled(api, settings, usage_events):
    settings.AI_OFFLINE_DELAY_MS = 5000
    task = asyncio.create_task(api.post(CHAT, {"prompt": "hi"}))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [event] = usage_events
    assert (event.status, event.streamed) == (STATUS_CANCELLED, False)
