"""Issue 15: many slow streams held at once through the real ASGI server, each relayed whole,
each in the ledger, and nothing left open afterwards (the benchmark is bench/held_streams.py)."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.db.models import Count, Sum

from ai.models import UsageRecord
from ai.usage import flush_usage
from tests.api.conftest import COMPLETIONS
from tests.api.sse_client import parse_sse, split_stream

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = 500
DELTAS = 8
INTERVAL = 0.25  # seconds between deltas: each stream lasts about two seconds


@pytest.fixture(params=["default", "fast", "fast-small-deques"])
def live(request, settings, transactional_db):
    """Both ways a stream is written: Django's handler iterating the response (the default)
    and the lean handler (AI_API_MIDDLEWARE), where the response writes its own frames; and the
    lean handler with the connections' deques swapped (AI_SMALL_DEQUES)."""
    from tests.api.live import LiveGateway

    settings.AI_API_MIDDLEWARE = None if request.param == "default" else []
    settings.AI_SMALL_DEQUES = request.param == "fast-small-deques"
    server = LiveGateway().start()
    yield server
    server.stop()


async def test_500_paced_streams_are_held_at_once_and_relayed_whole(live, token):
    limits = httpx2.Limits(max_connections=STREAMS, max_keepalive_connections=STREAMS)
    firsts: list[float] = []
    ends: list[float] = []

    async def one(client: httpx2.AsyncClient, i: int) -> None:
        text = f"held {i} [[fake:chunks={DELTAS} chunk_delay={INTERVAL}]]"
        body = {"provider": "openai", "messages": [{"role": "user", "content": text}]}
        async with client.stream("POST", COMPLETIONS, json={**body, "stream": True}) as response:
            assert response.status_code == 200
            raw = b""
            async for chunk in response.aiter_bytes():
                if not raw:
                    firsts.append(time.monotonic())
                raw += chunk
        ends.append(time.monotonic())
        deltas, _done, finished, error = split_stream(parse_sse(raw))
        assert finished and error is None and len(deltas) == DELTAS

    async with httpx2.AsyncClient(
        base_url=live.url, headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits
    ) as client:
        await asyncio.gather(*(one(client, i) for i in range(STREAMS)))

    assert len(ends) == STREAMS
    # Every stream had its first bytes before any stream ended: all were open at the same time.
    assert max(firsts) < min(ends), (max(firsts) - min(firsts), min(ends) - max(firsts))

    await flush_usage()

    def totals():
        return UsageRecord.objects.aggregate(
            n=Count("id"), completion=Sum("completion_tokens")
        ), set(UsageRecord.objects.values_list("status", "usage_source").distinct())

    got, kinds = await sync_to_async(totals)()
    assert got == {"n": STREAMS, "completion": STREAMS * DELTAS}
    assert kinds == {("ok", "reported")}

    # The client is gone: the server holds no connection (each stream's upstream connection is
    # pooled by the provider's client, closed at the server's shutdown).
    deadline = time.monotonic() + 5
    while live.server.server_state.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not live.server.server_state.connections
