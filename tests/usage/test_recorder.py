"""The ledger writer: one row per event with every field, batching, flushing, and failures that
are logged and never raised."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.db.models import Count, Sum

from ai.models import UsageRecord
from ai.providers.base import USAGE_ESTIMATED, Usage
from ai.usage import flush_usage, flush_usage_sync, record_usage, recorder
from ai.usage.writer import UsageWriter, writer
from tests.usage.conftest import event, price

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_row_per_event_with_every_field(alice, prices):
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    record_usage(
        event(
            "req-1",
            user_id=alice.pk,
            endpoint="chat/routed",
            provider="openai",
            model="gpt-4o",
            complexity="moderate",
            usage=Usage.of(1200, 300, cached=200, reasoning=50),
            latency_ms=812.6,
            ttft_ms=95.4,
            streamed=True,
            created_at=at,
            upstream_request_id="req_upstream_9",
        )
    )
    flush_usage_sync()
    row = UsageRecord.objects.get()
    assert row.request_id == "req-1"
    assert row.user_id == alice.pk
    assert (row.endpoint, row.provider, row.model, row.complexity) == (
        "chat/routed", "openai", "gpt-4o", "moderate",
    )  # fmt: skip
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (1200, 300, 1500)
    assert (row.cached_tokens, row.reasoning_tokens) == (200, 50)
    assert row.usage_source == "reported"
    assert (row.latency_ms, row.ttft_ms) == (813, 95)
    assert row.streamed is True
    assert (row.status, row.error_code) == ("ok", "")
    assert row.created_at == at
    assert row.upstream_request_id == "req_upstream_9"
    # gpt-4o: 1000 fresh x $2.50 + 200 cached x $1.25 + 300 out x $10, per million.
    assert row.cost == Decimal("0.0057500000")


def test_error_and_cancelled_outcomes(alice, prices):
    record_usage(event("err", user_id=alice.pk, status="error", error_code="rate_limited",
                       usage=None))  # fmt: skip
    record_usage(
        event(
            "cut",
            user_id=alice.pk,
            status="cancelled",
            streamed=True,
            usage=Usage.of(40, 17, source=USAGE_ESTIMATED),
        )
    )
    flush_usage_sync()
    err = UsageRecord.objects.get(request_id="err")
    assert (err.status, err.error_code, err.total_tokens, err.usage_source) == (
        "error", "rate_limited", 0, "none",
    )  # fmt: skip
    assert err.cost == Decimal(0)  # no tokens used: nothing to pay, whatever the model
    cut = UsageRecord.objects.get(request_id="cut")
    assert (cut.status, cut.prompt_tokens, cut.completion_tokens) == ("cancelled", 40, 17)
    assert cut.usage_source == "estimated"
    assert cut.cost == Decimal("0.0000162000")  # 40 x 0.15 + 17 x 0.60 per million


def test_batches_are_written_on_flush(ledger, settings):
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 60_000  # only size or flush writes a batch
    settings.AI_USAGE_BATCH_SIZE = 50
    for i in range(120):
        record_usage(event(f"b{i}"))
    flush_usage_sync()
    assert UsageRecord.objects.count() == 120
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == sorted(
        f"b{i}" for i in range(120)
    )


def _rows(prefix: str) -> int:
    for _ in range(50):
        try:
            return UsageRecord.objects.filter(request_id__startswith=prefix).count()
        except OperationalError:  # in-memory SQLite table lock, see below
            threading.Event().wait(0.01)
    raise AssertionError("the ledger table stayed locked")


def _rows_within(prefix: str, expected: int, seconds: float = 3.0) -> int:
    """The row count for ``prefix`` once it reaches ``expected``, or the last count seen."""
    for _ in range(int(seconds / 0.01)):
        if _rows(prefix) == expected:
            break
        threading.Event().wait(0.01)
    return _rows(prefix)


def test_a_full_batch_is_written_before_the_interval(ledger, settings):
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 60_000
    settings.AI_USAGE_BATCH_SIZE = 5
    record_usage(event("warm-0"))  # the writer reads the batch size when a batch starts
    flush_usage_sync()
    for i in range(5):
        record_usage(event(f"full-{i}"))
    assert _rows_within("full-", 5) == 5


def test_the_writer_sleeps_until_the_interval_not_per_event(ledger, settings):
    # Events arriving one by one neither end the batch early nor leave it unwritten: nothing is
    # written while the interval runs, everything is written once it has passed.
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 600
    settings.AI_USAGE_BATCH_SIZE = 500
    flush_usage_sync()  # leaves a wake-up behind in the writer: it must not end the next batch
    record_usage(event("slow-0"))
    for i in range(1, 10):
        threading.Event().wait(0.02)
        record_usage(event(f"slow-{i}"))
    assert _rows("slow-") == 0
    assert _rows_within("slow-", 10) == 10


def test_rows_arrive_without_a_flush_after_the_interval(ledger, settings):
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 20
    record_usage(event("lonely"))
    for _ in range(200):
        try:
            if UsageRecord.objects.filter(request_id="lonely").exists():
                break
        except OperationalError:
            # In-memory SQLite shares one cache between threads with table locks: a read that
            # meets the writer's transaction fails at once ("table is locked") instead of waiting.
            pass
        threading.Event().wait(0.01)
    assert UsageRecord.objects.filter(request_id="lonely").count() == 1


async def test_record_from_the_event_loop_and_flush_without_blocking(aledger, settings):
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 50
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    for i in range(300):
        record_usage(event(f"a{i}", streamed=True))
    await flush_usage()
    task.cancel()
    assert ticks > 0  # the loop kept running while the writer worked
    assert await UsageRecord.objects.acount() == 300


async def test_concurrent_requests_each_leave_one_row(aledger, settings):
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 5
    settings.AI_USAGE_BATCH_SIZE = 17  # many small batches, interleaved with the requests

    async def request(i: int) -> None:
        await asyncio.sleep((i % 7) / 1000)
        record_usage(event(f"c{i}", streamed=True, usage=Usage.of(100 + i, i)))

    await asyncio.gather(*(request(i) for i in range(200)))
    await flush_usage()
    sums = await UsageRecord.objects.aaggregate(
        n=Count("id"), p=Sum("prompt_tokens"), c=Sum("completion_tokens")
    )
    assert sums == {"n": 200, "p": sum(100 + i for i in range(200)), "c": sum(range(200))}
    assert await UsageRecord.objects.values("request_id").distinct().acount() == 200


def test_disabled_ledger_records_nothing(ledger, settings):
    settings.AI_USAGE_ENABLED = False
    record_usage(event("off"))
    flush_usage_sync()
    assert UsageRecord.objects.count() == 0


def test_caller_cost_is_kept(ledger):
    record_usage(event("shown", cost=Decimal("0.125")))
    flush_usage_sync()
    assert UsageRecord.objects.get().cost == Decimal("0.125")


def test_bad_row_is_logged_and_the_rest_written(alice, caplog):
    events = [event("good-1", user_id=alice.pk), event("ghost", user_id=999_999),
              event("good-2", user_id=alice.pk)]  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="ai.usage"):
        result = recorder.write_events(events)
    assert (result.written, result.lost) == (2, 1)
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == ["good-1", "good-2"]
    assert "LOST usage row for request ghost" in caplog.text


def test_database_down_is_retried_then_logged_never_raised(ledger, monkeypatch, caplog):
    calls = 0

    def down(*args, **kwargs):
        nonlocal calls
        calls += 1
        raise OperationalError("connection refused")

    monkeypatch.setattr(recorder, "RETRY_PAUSE_S", 0)
    monkeypatch.setattr(recorder, "insert_rows", down)
    with caplog.at_level(logging.WARNING, logger="ai.usage"):
        record_usage(event("x1"))
        record_usage(event("x2"))
        flush_usage_sync()  # returns: the failure did not escape the writer
    assert calls == recorder.CONNECTION_ATTEMPTS
    assert "LOST 2 usage rows" in caplog.text and "x1, x2" in caplog.text
    assert writer._thread is not None and writer._thread.is_alive()
    monkeypatch.undo()
    record_usage(event("after"))
    flush_usage_sync()
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == ["after"]


def test_transient_failure_is_retried_and_written(ledger, monkeypatch):
    real = recorder.insert_rows
    failures = [OperationalError("database is locked")]

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(recorder, "RETRY_PAUSE_S", 0)
    monkeypatch.setattr(recorder, "insert_rows", flaky)
    assert recorder.write_events([event("retry-me")]).written == 1
    assert UsageRecord.objects.filter(request_id="retry-me").count() == 1


def test_record_usage_never_raises(ledger, monkeypatch, caplog):
    def broken(_event):
        raise RuntimeError("queue exploded")

    monkeypatch.setattr(writer, "submit", broken)
    with caplog.at_level(logging.ERROR, logger="ai.usage"):
        record_usage(event("boom"))  # no exception
    assert "could not record usage event" in caplog.text


def test_full_queue_drops_and_counts(ledger, monkeypatch, caplog):
    w = UsageWriter()
    monkeypatch.setattr("ai.usage.writer.MAX_QUEUED", 0)
    with caplog.at_level(logging.ERROR, logger="ai.usage"):
        w.submit(event("too-many"))
    assert w.dropped == 1
    assert "DROPPED usage event too-many" in caplog.text


def test_shutdown_drains_the_queue(ledger, settings):
    settings.AI_USAGE_FLUSH_INTERVAL_MS = 60_000
    w = UsageWriter()
    for i in range(10):
        w.submit(event(f"exit-{i}"))
    assert w.shutdown(timeout=10) == 0
    assert UsageRecord.objects.filter(request_id__startswith="exit-").count() == 10
    w.submit(event("late"))  # after shutdown: dropped and counted, not silently lost
    assert w.dropped == 1


async def test_cost_is_priced_at_created_at_by_the_writer(aledger):
    await sync_to_async(price)("openai", "gpt-x", "2026-01-01", "1", "2")
    record_usage(event("p", model="gpt-x", created_at=datetime(2026, 2, 1, tzinfo=UTC)))
    await flush_usage()
    row = await UsageRecord.objects.aget()
    assert row.cost == Decimal("0.0020000000")  # 1000 x 1 + 500 x 2 per million
