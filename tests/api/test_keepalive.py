"""SSE keep-alive comments on quiet streams, over a real ASGI server, in both handler modes."""

from __future__ import annotations

import asyncio
import time

import pytest

from ai.usage.events import STATUS_CANCELLED, STATUS_OK
from tests.api.conftest import CHAT
from tests.api.sse_client import parse_sse
from tests.api.test_asgi_server import http, live  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_quiet_stream_gets_keepalive_comments(http, settings, usage_events):  # noqa: F811
    """Words 0.4 s apart, keep-alive every 0.15 s: comments come between deltas, the events
    are the same as without them, and the stream completes."""
    settings.AI_SSE_KEEPALIVE_SECONDS = 0.15
    settings.AI_OFFLINE_DELAY_MS = 1600  # spread over the answer's 4 words
    async with http.stream("POST", CHAT, json={"prompt": "hi", "stream": True}) as response:
        body = await response.aread()
    assert response.status_code == 200
    comments = [line for line in body.decode().splitlines() if line.startswith(":")]
    assert len(comments) >= 3, body
    assert set(comments) == {": keep-alive"}
    frames = parse_sse(body)
    assert frames[-1].data == "[DONE]"
    events = [f.json() for f in frames[:-1] if f.data]  # a comment-only block has no data
    deltas = [e["content"] for e in events if e["type"] == "delta"]
    assert events[-1]["type"] == "done"
    assert "".join(deltas).endswith("You said: hi")
    await _wait_for(usage_events)
    assert usage_events[0].status == STATUS_OK


async def test_a_busy_stream_gets_none(http, settings):  # noqa: F811
    settings.AI_SSE_KEEPALIVE_SECONDS = 5
    settings.AI_OFFLINE_DELAY_MS = 200
    async with http.stream("POST", CHAT, json={"prompt": "hi", "stream": True}) as response:
        body = await response.aread()
    assert b": keep-alive" not in body
    assert parse_sse(body)[-1].data == "[DONE]"


async def test_off_sends_none(http, settings):  # noqa: F811
    settings.AI_SSE_KEEPALIVE_SECONDS = 0
    settings.AI_OFFLINE_DELAY_MS = 800
    async with http.stream("POST", CHAT, json={"prompt": "hi", "stream": True}) as response:
        body = await response.aread()
    assert b": keep-alive" not in body


async def test_a_client_leaving_a_quiet_stream_cancels_it(http, settings, usage_events):  # noqa: F811
    """Gone while the relay waits on the upstream: the relay is cancelled at once and the
    request recorded as cancelled."""
    settings.AI_SSE_KEEPALIVE_SECONDS = 0.1
    settings.AI_OFFLINE_DELAY_MS = 4000  # 1 s to the first word, then 1 s between words
    async with http.stream("POST", CHAT, json={"prompt": "hi", "stream": True}) as response:
        async for line in response.aiter_lines():
            if line.startswith(": keep-alive"):
                break
    left = time.monotonic()
    await _wait_for(usage_events)
    [event] = usage_events
    assert event.status == STATUS_CANCELLED
    assert time.monotonic() - left < 1  # within the upstream's quiet second


async def _wait_for(events: list, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not events and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_a_stalled_stream_ends_with_a_timeout_error_frame(http, settings, usage_events):  # noqa: F811
    """The idle deadline fires while the keep-alive relay waits: the stream ends with the
    error frame (no [DONE]), keep-alives before it, and the ledger says upstream_timeout."""
    settings.AI_SSE_KEEPALIVE_SECONDS = 0.1
    settings.AI_IDLE_TIMEOUT = 0.4
    settings.AI_OFFLINE_DELAY_MS = 4000  # 1 s between words: the second one is too late
    async with http.stream("POST", CHAT, json={"prompt": "hi", "stream": True}) as response:
        body = await response.aread()
    assert response.status_code == 200
    frames = parse_sse(body)
    assert frames[-1].event == "error"
    assert frames[-1].json()["error"]["code"] == "upstream_timeout"
    assert b": keep-alive" in body
    assert all(f.data != "[DONE]" for f in frames)
    await _wait_for(usage_events)
    assert (usage_events[0].status, usage_events[0].error_code) == ("error", "upstream_timeout")
