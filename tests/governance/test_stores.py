"""The two stores count alike: the same cases on the memory store and, under REDIS_URL, on the
Redis scripts (the very ones the gateway runs)."""

from __future__ import annotations

import asyncio
import os

import pytest
from django.core.cache import caches

from ai.governance.memory import (
    ADMITTED,
    OVER_BUDGET,
    RATE_LIMITED,
    Bucket,
    Budget,
    MemoryStore,
)
from ai.governance.redis_store import RedisStore

DAY = 86_400


def _stores() -> list:
    stores = ["memory"]
    if os.environ.get("REDIS_URL"):
        stores.append("redis")
    return stores


@pytest.fixture(params=_stores())
async def store(request):
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore(caches.create_connection("default"), "default")
    yield redis_store
    await redis_store.aclose()


async def test_a_bucket_admits_its_capacity_then_says_when_to_retry(store):
    bucket = Bucket("ai:gov:rpm:test:1", 3, 1)
    verdicts = [await store.admit([bucket], []) for _ in range(4)]
    assert [v.status for v in verdicts] == [ADMITTED] * 3 + [RATE_LIMITED]
    assert [v.buckets[0][0] for v in verdicts[:3]] == [2, 1, 0]
    refused = verdicts[-1]
    assert refused.failed == 1
    assert 0 < refused.retry_ms <= 20_000  # 3 a minute: one back within 20 s


async def test_nothing_is_taken_unless_everything_admits(store):
    wide = Bucket("ai:gov:rpm:test:wide", 100, 1)
    narrow = Bucket("ai:gov:tpm:test:narrow", 10, 8)
    assert (await store.admit([wide, narrow], [])).status == ADMITTED
    refused = await store.admit([wide, narrow], [])  # 2 tokens left, 8 needed
    assert (refused.status, refused.failed) == (RATE_LIMITED, 2)
    after = await store.admit([wide], [])
    assert after.buckets[0][0] == 98  # the refused request took no request


async def test_token_debt_and_correction(store):
    """An estimate larger than the bucket is admitted when the bucket is whole, leaves a debt,
    and the correction after the call gives back what was not used."""
    key = "ai:gov:tpm:test:debt"
    assert (await store.admit([Bucket(key, 100, 150)], [])).status == ADMITTED
    assert (await store.admit([Bucket(key, 100, 1)], [])).status == RATE_LIMITED
    await store.settle([(key, 100, 140)], [])  # 150 estimated, 10 used
    verdict = await store.admit([Bucket(key, 100, 1)], [])
    assert verdict.status == ADMITTED
    assert 89 <= verdict.buckets[0][0] <= 91  # 100 - 10 - 1 (+ refill meanwhile)


async def test_a_budget_reserves_and_settles_exactly(store):
    key = "ai:gov:spend:test:1:d20261204"
    budget = Budget(key, limit=1_000, cost=400, ttl=DAY)
    assert [(await store.admit([], [budget])).status for _ in range(3)] == [
        ADMITTED,
        ADMITTED,
        OVER_BUDGET,
    ]
    assert await store.read_budget(key) == (0, 800)
    await store.settle([], [(key, 400, 150, DAY)])
    assert await store.read_budget(key) == (150, 400)
    refused = await store.admit([], [Budget(key, 1_000, 451, DAY)])
    assert (refused.status, refused.spent, refused.reserved) == (OVER_BUDGET, 150, 400)


async def test_concurrent_reservations_never_pass_the_budget(store):
    key = "ai:gov:spend:test:2:d20261204"
    budget = Budget(key, limit=1_000_000, cost=30_001, ttl=DAY)
    verdicts = await asyncio.gather(*(store.admit([], [budget]) for _ in range(100)))
    assert sum(v.status == ADMITTED for v in verdicts) == 33
    assert await store.read_budget(key) == (0, 33 * 30_001)


needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")


@needs_redis
async def test_redis_loads_its_scripts_again_after_a_flush():
    import redis.asyncio

    store = RedisStore(caches.create_connection("default"), "default")
    admin = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    try:
        assert (await store.admit([Bucket("ai:gov:rpm:test:flush", 5, 1)], [])).status == ADMITTED
        await admin.script_flush()  # as after a Redis restart
        verdict = await store.admit([Bucket("ai:gov:rpm:test:flush", 5, 1)], [])
        assert (verdict.status, verdict.buckets[0][0]) == (ADMITTED, 3)
    finally:
        await admin.aclose()
        await store.aclose()


@needs_redis
async def test_an_admission_cancelled_in_flight_is_given_back():
    """The request is cancelled after its call went out: whatever Redis took is given back."""
    store = RedisStore(caches.create_connection("default"), "default")
    key = "ai:gov:spend:test:3:d20261204"
    try:
        task = asyncio.create_task(
            store.admit([Bucket("ai:gov:rpm:test:3", 5, 1)], [Budget(key, 1_000, 400, DAY)])
        )
        await asyncio.sleep(0)  # the call is queued for this turn's pipeline
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.drain()  # the pipeline, then the give-back it started
        assert await store.read_budget(key) == (0, 0)
        verdict = await store.admit([Bucket("ai:gov:rpm:test:3", 5, 1)], [])
        assert verdict.buckets[0][0] == 4  # the cancelled request's one is back
    finally:
        await store.aclose()


def test_the_memory_store_drops_what_is_whole_again(monkeypatch):
    from ai.governance import memory

    monkeypatch.setattr(memory, "MAX_ENTRIES", 2)
    store = MemoryStore()
    for i in range(3):
        store.admit_now([Bucket(f"ai:gov:rpm:test:{i}", 5, 1)], [])
    for state in store.buckets.values():
        state.at -= 2 * memory.WINDOW_MS  # used two minutes ago: whole again
    store.admit_now([Bucket("ai:gov:rpm:test:new", 5, 1)], [])
    assert list(store.buckets) == ["ai:gov:rpm:test:new"]
