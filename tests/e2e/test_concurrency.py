"""Under the real ASGI server, with real providers over the real wire: the gateway holds many
slow upstream calls at once, and the ledger keeps exact books under concurrency."""

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
from tests.e2e.conftest import MODELS, PROVIDERS
from tests.fake_upstream import fake_prompt_tokens

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def http(live, token):
    async with httpx2.AsyncClient(
        base_url=live.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=httpx2.Limits(max_connections=300, max_keepalive_connections=300),
    ) as client:
        yield client


async def test_fifty_concurrent_one_second_upstream_calls(http):
    """Each upstream call takes 1 s; the gateway serves 50 at once in about 1 s, not 50."""
    warm = await http.post(
        COMPLETIONS,
        json={"provider": "openai", "messages": [{"role": "user", "content": "warm up"}]},
    )
    assert warm.status_code == 200

    async def one(i: int) -> httpx2.Response:
        return await http.post(
            COMPLETIONS,
            json={
                "provider": "openai",
                "messages": [{"role": "user", "content": f"question {i} [[fake:delay=1]]"}],
            },
        )

    started = time.perf_counter()
    responses = await asyncio.gather(*(one(i) for i in range(50)))
    elapsed = time.perf_counter() - started
    assert [r.status_code for r in responses] == [200] * 50
    assert elapsed < 3.0, f"50 concurrent 1 s upstream calls took {elapsed:.2f} s"


async def test_200_concurrent_streams_give_200_exact_rows(http):
    """200 streams at once, spread over the three providers: exactly 200 rows whose token sums
    equal what the fake upstream reported (run on PostgreSQL in CI)."""

    async def one(i: int) -> tuple[str, int]:
        provider = PROVIDERS[i % 3]
        chunks = 3 + i % 5
        text = f"stream number {i} [[fake:chunks={chunks} chunk_delay=0.01]]"
        async with http.stream(
            "POST",
            COMPLETIONS,
            json={
                "provider": provider,
                "model": MODELS[provider],
                "messages": [{"role": "user", "content": text}],
                "stream": True,
            },
        ) as response:
            assert response.status_code == 200
            raw = await response.aread()
        deltas, _done, finished, error = split_stream(parse_sse(raw))
        assert finished and error is None and len(deltas) == chunks
        return text, chunks

    sent = await asyncio.gather(*(one(i) for i in range(200)))
    await flush_usage()

    def totals():
        return UsageRecord.objects.aggregate(
            n=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")
        ), set(UsageRecord.objects.values_list("status", "usage_source").distinct())

    got, kinds = await sync_to_async(totals)()
    assert got["n"] == 200
    assert got["prompt"] == sum(fake_prompt_tokens([text]) for text, _ in sent)
    assert got["completion"] == sum(chunks for _, chunks in sent)
    assert kinds == {("ok", "reported")}
