"""The gateway's own deadlines (ai.providers.deadlines): first byte and idle-between-deltas are
separate settings, the same for every vendor and transport, over the real wire."""

from __future__ import annotations

import time

import pytest

from ai.exceptions import UpstreamTimeoutError
from tests.providers.conftest import open_provider

PROVIDERS = ("openai", "anthropic", "gemini")


@pytest.fixture
def deadlines(upstream_settings, transport):
    upstream_settings.AI_REQUEST_TIMEOUT = 30  # neither deadline comes from it here
    return upstream_settings


@pytest.mark.parametrize("name", PROVIDERS)
async def test_first_byte_timeout_ends_a_slow_answer(deadlines, name):
    deadlines.AI_FIRST_BYTE_TIMEOUT = 0.3
    async with open_provider(name) as provider:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError) as err:
            await provider.complete_simple("slow [[fake:delay=2]]")
        assert time.monotonic() - started < 1.5
        assert err.value.provider == name
        with pytest.raises(UpstreamTimeoutError):
            await provider.stream_simple("slow [[fake:delay=2]]").start()


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_long_first_byte_is_fine_when_the_idle_timeout_is_short(deadlines, name):
    """A model that thinks 0.6 s before its first token, then streams quickly: only the
    first-byte deadline applies to the wait."""
    deadlines.AI_FIRST_BYTE_TIMEOUT = 5
    deadlines.AI_IDLE_TIMEOUT = 0.3
    async with open_provider(name) as provider:
        stream = provider.stream_simple("think [[fake:delay=0.6 chunks=4]]")
        text = "".join([piece async for piece in stream])
        assert stream.completed and text


@pytest.mark.parametrize("name", PROVIDERS)
async def test_idle_timeout_ends_a_stalled_stream(deadlines, name):
    deadlines.AI_FIRST_BYTE_TIMEOUT = 5
    deadlines.AI_IDLE_TIMEOUT = 0.3
    async with open_provider(name) as provider:
        stream = provider.stream_simple("stall [[fake:chunks=3 chunk_delay=2]]")
        received = []
        with pytest.raises(UpstreamTimeoutError) as err:
            async for piece in stream:
                received.append(piece)
                last = time.monotonic()
        assert time.monotonic() - last < 1.5  # 0.3 s after the last delta, not 2 s
        assert received  # the first delta came; the second did not, in time
        assert "no delta" in err.value.message
        assert stream.error is err.value
        assert not stream.completed
        assert stream.usage_so_far().completion_tokens >= 1
