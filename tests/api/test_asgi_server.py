"""The gateway under a real ASGI server (uvicorn on 127.0.0.1): concurrency, streaming over real
HTTP, and a client that disconnects mid-stream. Each test runs twice: every request through
the project's handler (the default) and the app's views on the fast path (AI_API_MIDDLEWARE)."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx2
import pytest

from ai.usage.events import STATUS_CANCELLED
from tests.api.conftest import CHAT, STATUS
from tests.api.live import LiveGateway
from tests.api.sse_client import parse_sse, split_stream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["default", "fast"])
def live(request, settings, transactional_db):
    settings.AI_API_MIDDLEWARE = None if request.param == "default" else []
    server = LiveGateway().start()
    yield server
    server.stop()


@pytest.fixture
async def http(live, token):
    async with httpx2.AsyncClient(
        base_url=live.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        limits=httpx2.Limits(max_connections=100),
    ) as client:
        yield client


async def test_status_over_http(http):
    response = await http.get(STATUS)
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    assert response.json()["mode"] == "offline"


async def test_fifty_concurrent_slow_requests_overlap(http, settings, usage_events):
    """Each upstream call takes 1 s; served concurrently, 50 take about 1 s, not 50."""
    settings.AI_OFFLINE_DELAY_MS = 1000
    assert (await http.get(STATUS)).status_code == 200  # connect, authenticate, warm up

    started = time.perf_counter()
    responses = await asyncio.gather(
        *(http.post(CHAT, json={"prompt": f"question {i}"}) for i in range(50))
    )
    elapsed = time.perf_counter() - started

    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json()["content"].endswith(f"question {i}") for i, r in enumerate(responses))
    assert elapsed < 3.0, f"50 concurrent 1 s requests took {elapsed:.2f} s"
    assert len(usage_events) == 50


async def test_streaming_over_http(http):
    plain = (await http.post(CHAT, json={"prompt": "stream me please"})).json()
    async with http.stream(
        "POST",
        CHAT,
        json={"prompt": "stream me please", "stream": True},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        request_id = response.headers["x-request-id"]
        chunks = [chunk async for chunk in response.aiter_bytes()]
    deltas, done, finished, error = split_stream(parse_sse(b"".join(chunks)))
    assert error is None and finished
    assert "".join(deltas) == plain["content"]
    assert done["id"] == request_id


async def test_streaming_arrives_incrementally(http, settings):
    """Deltas reach the client as they are produced, not buffered until the end."""
    settings.AI_OFFLINE_DELAY_MS = 1000  # spread over the answer's words
    arrivals = []
    started = time.perf_counter()
    async with http.stream(
        "POST", CHAT, json={"prompt": "one two three four five six", "stream": True}
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                arrivals.append(time.perf_counter() - started)
    assert len(arrivals) > 5
    assert arrivals[0] < 0.5 < arrivals[-1]


async def test_error_before_first_byte_over_http(http):
    async with http.stream(
        "POST",
        CHAT,
        json={"prompt": "hi", "provider": "anthropic", "stream": True},
        headers={"Accept": "text/event-stream"},
    ) as response:
        body = await response.aread()
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert b"provider_not_configured" in body


async def test_client_disconnect_mid_stream(http, scripted_provider, usage_events, caplog):
    """The client reads one delta and hangs up: the server closes the upstream stream and
    records a cancelled usage event, without an error."""
    caplog.set_level(logging.WARNING)
    async with http.stream(
        "POST", CHAT, json={"prompt": "[[slow]]", "provider": "scripted", "stream": True}
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break
    # Leaving the block mid-body closes the connection.

    deadline = time.monotonic() + 5
    while not (usage_events and scripted_provider.CLOSED) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert scripted_provider.CLOSED == ["[[slow]]"], "the upstream stream was not closed"
    [event] = usage_events
    assert event.status == STATUS_CANCELLED
    assert event.streamed and event.usage is not None
    # The slow stream would take 10 s to finish; it was stopped at once.
    assert event.latency_ms < 3000
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
