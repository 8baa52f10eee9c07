"""SSE keep-alive comments on quiet streams, over a real ASGI server, in both handler modes."""

from __future__ import annotations

import asyncio
import time

import pytest

from ai.api import keepalive
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


# keepalive.relay: what the lean handler uses (SSEResponse.write_to), with no server around it.


class _Wire:
    """A ``write`` that records what was written, when, and how many writes overlapped."""

    def __init__(self, slow: dict[bytes, float] | None = None) -> None:
        self.parts: list[bytes] = []
        self.slow = slow or {}
        self.busy = 0
        self.most_at_once = 0

    async def write(self, part: bytes) -> None:
        self.busy += 1
        self.most_at_once = max(self.most_at_once, self.busy)
        try:
            await asyncio.sleep(self.slow.get(part, 0))
            self.parts.append(part)
        finally:
            self.busy -= 1


async def _paced(*steps: bytes | float):
    for step in steps:
        if isinstance(step, float):
            await asyncio.sleep(step)
        else:
            yield step


def _others() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_relay_writes_keepalives_while_the_frames_are_quiet():
    wire = _Wire()
    await keepalive.relay(_paced(b"a", 0.35, b"b"), wire.write, 0.1)
    ka = keepalive.KEEPALIVE_FRAME
    assert wire.parts[0] == b"a" and wire.parts[-1] == b"b"
    assert 2 <= wire.parts.count(ka) <= 3
    assert set(wire.parts[1:-1]) == {ka}
    assert not _others()  # no keep-alive task outlives the relay


async def test_relay_never_writes_during_a_slow_write():
    """A client slower than the interval: the frame's own write is under way, so no keep-alive
    goes beside it, and none after it when the next frame follows at once."""
    wire = _Wire(slow={b"a": 0.3})
    await keepalive.relay(_paced(b"a", b"b"), wire.write, 0.05)
    assert wire.parts == [b"a", b"b"]
    assert wire.most_at_once == 1


async def test_relay_lets_a_keepalive_under_way_finish_before_the_next_frame():
    ka = keepalive.KEEPALIVE_FRAME
    wire = _Wire(slow={ka: 0.2})  # the keep-alive at 0.1 s takes until 0.3 s
    await keepalive.relay(_paced(b"a", 0.15, b"b"), wire.write, 0.1)
    assert wire.parts == [b"a", ka, b"b"]
    assert wire.most_at_once == 1


async def test_relay_returns_after_a_keepalive_under_way_at_the_end():
    ka = keepalive.KEEPALIVE_FRAME
    wire = _Wire(slow={ka: 0.2})
    await keepalive.relay(_paced(b"a", 0.15), wire.write, 0.1)
    assert wire.parts == [b"a", ka]  # written before relay returned: the body's end goes after
    assert not _others()


async def test_relay_cancelled_takes_its_keepalive_with_it():
    ka = keepalive.KEEPALIVE_FRAME
    wire = _Wire(slow={ka: 5.0})
    task = asyncio.create_task(keepalive.relay(_paced(b"a", 5.0), wire.write, 0.05))
    await asyncio.sleep(0.2)  # a keep-alive write is under way
    assert wire.busy == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert wire.busy == 0 and wire.parts == [b"a"]
    assert not _others()


@pytest.mark.parametrize("interval", [0.05, 0])
@pytest.mark.parametrize("ending", ["cancelled", "write fails"])
async def test_relay_closes_the_frames_however_it_ends(interval, ending):
    """The frames' own clean-up (closing the upstream, recording usage) has run when relay
    returns or raises: SSEResponse.write_to leaves closing them to it."""
    closed = asyncio.Event()

    async def frames():
        try:
            yield b"a"
            await asyncio.sleep(5.0)
            yield b"b"
        finally:
            closed.set()

    async def write(part: bytes) -> None:
        if ending == "write fails":
            raise OSError("the client went away")

    task = asyncio.create_task(keepalive.relay(frames(), write, interval))
    await asyncio.sleep(0.1)
    if ending == "cancelled":
        task.cancel()
    with pytest.raises((asyncio.CancelledError, OSError)):
        await task
    assert closed.is_set()


async def test_relay_with_no_interval_writes_only_the_frames():
    wire = _Wire()
    await keepalive.relay(_paced(b"a", 0.2, b"b"), wire.write, 0)
    assert wire.parts == [b"a", b"b"]


@pytest.mark.parametrize("kind", ["relay", "with_keepalive"])
async def test_a_slow_client_does_not_spin_the_keepalive_timer(monkeypatch, kind):
    """A write (or, iterated, the consumer) busy for 0.5 s at an interval of 0.05 s: the timer
    looks again once per interval, not on every turn of the loop."""
    cls = keepalive._Beat if kind == "relay" else keepalive._Pump
    calls = 0
    real = cls.check

    def counting(self):
        nonlocal calls
        calls += 1
        real(self)

    monkeypatch.setattr(cls, "check", counting)
    if kind == "relay":
        wire = _Wire(slow={b"a": 0.5})
        await keepalive.relay(_paced(b"a", b"b"), wire.write, 0.05)
    else:
        async for frame in keepalive.with_keepalive(_paced(b"a", b"b"), 0.05):
            if frame == b"a":
                await asyncio.sleep(0.5)  # the response busy with a slow client
    assert calls <= 15, calls
