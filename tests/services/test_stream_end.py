"""A stream is complete only when the upstream ended it (issue 13: under WSGI, asyncio's
``shutdown_asyncgens`` closed the provider's generator after the first delta, and the stream
ended as if complete, recorded ``ok``)."""

from __future__ import annotations

import asyncio
import time

import pytest

from ai.api.streaming import StreamFrames
from ai.exceptions import UpstreamStreamError
from ai.providers.base import Message, Role
from ai.providers.offline import OfflineProvider
from ai.services import gateway
from ai.usage.events import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK

MESSAGES = (Message(Role.USER, "one two three four five six"),)


def in_a_fresh_loop(scenario):
    """Run ``scenario`` on a loop of its own: closing every async generator of the test's loop
    would close the test framework's own too."""
    return asyncio.run(scenario())


async def _drain(stream) -> list[str]:
    return [chunk async for chunk in stream]


def test_a_stream_that_reaches_its_end_is_complete():
    async def scenario():
        stream = OfflineProvider().stream(MESSAGES)
        chunks = await _drain(stream)
        return stream, chunks

    stream, chunks = in_a_fresh_loop(scenario)
    assert stream.completed and len(chunks) > 2


def test_a_provider_generator_closed_from_outside_is_an_error_not_the_end():
    async def scenario():
        stream = OfflineProvider().stream(MESSAGES)
        await stream.start()  # the first delta is in
        await asyncio.get_running_loop().shutdown_asyncgens()
        with pytest.raises(UpstreamStreamError):
            await _drain(stream)
        return stream

    stream = in_a_fresh_loop(scenario)
    assert not stream.completed
    assert stream.finish_reason == "error"


def test_the_relay_never_records_such_a_stream_ok(monkeypatch):
    recorded = []
    monkeypatch.setattr("ai.usage.record_usage", recorded.append)

    async def scenario():
        call = gateway.LLMCall(messages=MESSAGES, provider="offline", stream=True)
        outcome = gateway.Outcome(
            request_id="r1",
            endpoint="chat",
            user_id=None,
            complexity="",
            started=time.perf_counter(),
        )
        frames = await gateway.open_stream(call, outcome, StreamFrames())
        first = await frames.__anext__()
        await asyncio.get_running_loop().shutdown_asyncgens()
        rest = [frame async for frame in frames]
        return first, rest

    first, rest = in_a_fresh_loop(scenario)
    assert first.startswith(b'data: {"type":"delta"')
    # shutdown_asyncgens closes the relay too (in whichever order): either it ends with an
    # error frame, or it is closed with nothing more sent. Never a "done" and [DONE].
    assert not any(b"[DONE]" in frame or b'"type":"done"' in frame for frame in rest)
    [event] = recorded
    assert event.status in (STATUS_ERROR, STATUS_CANCELLED)
    assert event.status != STATUS_OK


def test_a_stream_closed_after_its_start_yields_nothing_more():
    async def scenario():
        stream = OfflineProvider().stream(MESSAGES)
        await stream.start()  # the first delta is read and held
        await stream.aclose()
        return stream, await _drain(stream)

    stream, rest = in_a_fresh_loop(scenario)
    assert rest == [] and not stream.completed


def test_a_stream_that_forgets_its_content_estimates_the_same():
    """The relay reads deltas, never the content: it keeps their length only, and a cut
    stream's usage estimate is what the kept text would have given."""

    async def scenario(forget: bool):
        stream = OfflineProvider().stream(MESSAGES)
        await stream.start()
        if forget:
            stream.forget_content()
        chunks = [await anext(stream), await anext(stream)]
        await stream.aclose()  # cut: the usage is estimated from what was produced
        return stream, chunks

    kept, chunks = in_a_fresh_loop(lambda: scenario(False))
    forgot, same = in_a_fresh_loop(lambda: scenario(True))
    assert chunks == same and kept.content and forgot.content == ""
    assert forgot._parts is None
    assert forgot.usage_so_far() == kept.usage_so_far()
    assert kept.usage_so_far().completion_tokens > 0
