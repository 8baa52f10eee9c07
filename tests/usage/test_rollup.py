"""The daily roll-up and the reports that merge it with the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from ai.models import UsageDaily, UsageDailyModel, UsageRecord, UsageRollupDay
from ai.providers.base import Usage
from ai.usage.recorder import write_events
from ai.usage.reports import aggregate, summarize, top_users
from ai.usage.rollup import rollup_day, rollup_days
from tests.usage.conftest import event, price

pytestmark = pytest.mark.django_db(transaction=True)

D1, D2, D3 = date(2026, 1, 10), date(2026, 1, 11), date(2026, 1, 12)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def history(alice, bob):
    """A few days of mixed traffic for two users, three providers and an unpriced model."""
    price("openai", "gpt-4o-mini", "2025-01-01", "0.15", "0.60", "0.075")
    price("anthropic", "claude-x", "2025-01-01", "3", "15", "0.3")
    price("gemini", "gemini-2.5-flash", "2025-01-01", "0.30", "2.50")
    events = []
    for day in (D1, D2, D3):
        for hour in (0, 9, 23):
            events += [
                event(f"{day}-{hour}-a1", user_id=alice.pk, created_at=at(day, hour),
                      usage=Usage.of(100 + hour, 50, cached=10)),
                event(f"{day}-{hour}-a2", user_id=alice.pk, created_at=at(day, hour),
                      provider="anthropic", model="claude-x", streamed=True,
                      usage=Usage.of(300, 70 + hour, cached=100, cache_write=50 + hour)),
                event(f"{day}-{hour}-b1", user_id=bob.pk, created_at=at(day, hour),
                      provider="gemini", model="gemini-2.5-flash", status="cancelled",
                      usage=Usage.of(40, 9, source="estimated")),
                event(f"{day}-{hour}-b2", user_id=bob.pk, created_at=at(day, hour),
                      provider="openai", model="gpt-unpriced", status="error",
                      error_code="upstream_timeout", usage=Usage.of(12, 0)),
            ]  # fmt: skip
    assert write_events(events).written == len(events)
    return events


def _raw_totals(start: date, end: date, **filters) -> dict:
    rows = UsageRecord.objects.filter(
        created_at__gte=at(start, 0), created_at__lt=at(end + timedelta(days=1), 0), **filters
    )
    return rows.aggregate(
        n=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"),
        cost=Sum("cost"),
    )  # fmt: skip


def test_rollup_matches_the_ledger_per_group(history):
    rolled = rollup_day(D2, now=at(D3))
    assert rolled.complete and rolled.records == 12
    assert UsageDaily.objects.filter(day=D2).count() == 4  # user x provider x model x status
    for daily in UsageDaily.objects.filter(day=D2):
        raw = UsageRecord.objects.filter(
            created_at__gte=at(D2, 0), created_at__lt=at(D3, 0), user_id=daily.user_id,
            provider=daily.provider, model=daily.model, status=daily.status,
        )  # fmt: skip
        sums = raw.aggregate(
            n=Count("id"), p=Sum("prompt_tokens"), c=Sum("completion_tokens"),
            cached=Sum("cached_tokens"), written=Sum("cache_write_tokens"), cost=Sum("cost"),
        )  # fmt: skip
        assert (daily.requests, daily.prompt_tokens, daily.completion_tokens) == (
            sums["n"], sums["p"], sums["c"],
        )  # fmt: skip
        assert daily.cached_tokens == sums["cached"]
        assert daily.cache_write_tokens == sums["written"]
        assert daily.cost == (sums["cost"] or 0)
    unpriced = UsageDaily.objects.get(day=D2, model="gpt-unpriced")
    assert (unpriced.cost_unknown_requests, unpriced.cost) == (3, 0)
    streamed = UsageDaily.objects.get(day=D2, model="claude-x")
    assert streamed.streamed_requests == 3
    assert streamed.cache_write_tokens == 50 * 3 + 0 + 9 + 23
    assert UsageDaily.objects.get(day=D2, provider="gemini").estimated_requests == 3


def test_rollup_is_idempotent_and_picks_up_new_rows(history, alice):
    rollup_days([D1, D2], now=at(D3))
    first = sorted(UsageDaily.objects.values_list("day", "model", "status", "requests", "cost"))
    rollup_days([D1, D2], now=at(D3))
    assert (
        sorted(UsageDaily.objects.values_list("day", "model", "status", "requests", "cost"))
        == first
    )
    write_events([event("late", user_id=alice.pk, created_at=at(D1, 23))])
    rollup_day(D1, now=at(D3))
    daily = UsageDaily.objects.get(day=D1, user=alice, model="gpt-4o-mini")
    assert daily.requests == 4


def test_a_day_is_complete_only_after_it_ended_plus_grace(history):
    assert not rollup_day(D3, now=at(D3, 18)).complete
    assert not rollup_day(D3, now=at(D3 + timedelta(days=1), 0)).complete
    assert rollup_day(D3, now=at(D3 + timedelta(days=1), 2)).complete


def test_reports_give_the_same_answer_from_ledger_and_roll_up(history, alice):
    before = summarize(D1, D3)
    before_alice = summarize(D1, D3, user_id=alice.pk)
    rollup_days([D1, D2], now=at(D3 + timedelta(days=2)))  # D3 stays on the ledger
    after = summarize(D1, D3)
    assert after.totals == before.totals
    assert after.by_day == before.by_day
    assert after.by_model == before.by_model
    assert summarize(D1, D3, user_id=alice.pk).totals == before_alice.totals
    raw = _raw_totals(D1, D3)
    assert after.totals["requests"] == raw["n"] == 36
    assert after.totals["prompt_tokens"] == raw["prompt"]
    assert after.totals["cost"] == raw["cost"]
    assert after.totals["cost_unknown_requests"] == 9
    assert (after.totals["errors"], after.totals["cancelled"]) == (9, 9)


def test_roll_up_is_read_for_complete_days(history, alice):
    rollup_day(D1, now=at(D3))
    # Prove the reports read the roll-ups: change them and see the change. All users: the
    # per-model roll-up; one user: the per-user one.
    UsageDailyModel.objects.filter(day=D1, model="gpt-4o-mini").update(requests=1000)
    assert summarize(D1, D1).totals["requests"] == 1000 + 9
    UsageDaily.objects.filter(day=D1, model="gpt-4o-mini").update(requests=500)
    assert summarize(D1, D1, user_id=alice.pk).totals["requests"] == 500 + 3
    UsageRollupDay.objects.filter(day=D1).update(complete=False)
    assert summarize(D1, D1).totals["requests"] == 12  # partial roll-ups are ignored


def test_the_per_model_roll_up_sums_the_per_user_one(history):
    rollup_days([D1, D2, D3], now=at(D3 + timedelta(days=2)))
    assert UsageDailyModel.objects.count() == 4 * 3  # per day: 4 (provider, model, status)
    for row in UsageDailyModel.objects.all():
        users = UsageDaily.objects.filter(
            day=row.day, provider=row.provider, model=row.model, status=row.status
        ).aggregate(n=Sum("requests"), t=Sum("total_tokens"), c=Sum("cost"))
        assert (row.requests, row.total_tokens, row.cost) == (users["n"], users["t"], users["c"])


def test_filtered_aggregates_agree_between_ledger_and_roll_up(history):
    filters = {"provider": "anthropic", "status": "ok"}
    raw = sorted(aggregate(D1, D3, ("day",), filters=filters), key=lambda r: r["day"])
    rollup_days([D1, D2], now=at(D3 + timedelta(days=2)))
    assert sorted(aggregate(D1, D3, ("day",), filters=filters), key=lambda r: r["day"]) == raw
    assert sum(r["requests"] for r in raw) == 9


def test_summary_lists_every_day_of_the_range(history):
    summary = summarize(D1 - timedelta(days=2), D3)
    assert [d["day"] for d in summary.by_day][:3] == [date(2026, 1, 8), date(2026, 1, 9), D1]
    assert summary.by_day[0]["requests"] == 0 and summary.by_day[0]["cost"] == 0
    assert summary.by_provider[0]["provider"] == "anthropic"  # highest spend first


def test_days_follow_the_project_time_zone(alice, settings):
    settings.TIME_ZONE = "America/New_York"
    # 03:00 UTC on Jan 11 is still Jan 10 in New York.
    write_events([event("ny", user_id=alice.pk, created_at=datetime(2026, 1, 11, 3, tzinfo=UTC))])
    raw = aggregate(D1, D2, ("day",))
    assert [(r["day"], r["requests"]) for r in raw] == [(D1, 1)]
    rollup_days([D1, D2], now=at(D3, 12))
    assert UsageDaily.objects.get().day == D1
    assert [(r["day"], r["requests"]) for r in aggregate(D1, D2, ("day",))] == [(D1, 1)]


def test_top_users_by_spend(history, alice, bob):
    rows = top_users(D1, D3)
    assert [r["username"] for r in rows] == ["alice", "bob"]
    assert rows[0]["cost"] > rows[1]["cost"] > Decimal(0)
