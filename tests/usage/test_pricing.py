"""Cost arithmetic, price history and the price cache.

Semantics under test: a request's cost is computed from the price in effect at its
``created_at`` and frozen when its row is written. A later price, or a correction inserted
afterwards with an earlier ``valid_from``, prices requests recorded from then on only; it never
rewrites a recorded cost. A model with no price is recorded with cost null, never 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from ai.models import ModelPrice, UsageRecord
from ai.providers.base import Usage
from ai.usage import flush_usage, flush_usage_sync, record_usage
from ai.usage.pricing import Price, PriceBook, cost_of, normalize_model
from tests.usage.conftest import event, price

pytestmark = pytest.mark.django_db(transaction=True)

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)


def _price(inp: str, out: str, cached: str | None = None, at: datetime = JAN) -> Price:
    return Price(Decimal(inp), Decimal(out), None if cached is None else Decimal(cached), at)


def test_cost_arithmetic_is_exact_decimal():
    p = _price("2.50", "10.00", "1.25")
    usage = Usage.of(1_234_567, 89_012, cached=234_567)
    # 1,000,000 fresh x 2.50 + 234,567 cached x 1.25 + 89,012 x 10, per million tokens.
    assert p.cost(usage) == Decimal("2.5") + Decimal("0.29320875") + Decimal("0.89012")
    assert p.cost(usage) == Decimal("3.6833287500")


def test_cached_tokens_without_a_cached_price_pay_the_input_price():
    assert _price("3", "15").cost(Usage.of(1000, 0, cached=400)) == Decimal("0.0030000000")


def test_tiny_costs_are_not_rounded_to_zero():
    assert _price("0.10", "0.40").cost(Usage.of(1, 1)) == Decimal("0.0000005000")


def test_price_in_effect_at_a_moment():
    book = PriceBook(
        [
            ("openai", "m", _price("1", "2", at=JAN)),
            ("openai", "m", _price("3", "4", at=MAR)),
        ]
    )
    assert book.price_at("openai", "m", datetime(2025, 12, 31, tzinfo=UTC)) is None
    assert book.price_at("openai", "m", JAN).input == 1
    assert book.price_at("openai", "m", FEB).input == 1
    assert book.price_at("openai", "m", MAR).input == 3
    assert book.price_at("anthropic", "m", FEB) is None  # the provider is part of the key


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gpt-4o", "gpt-4o"),
        ("o3", "o3"),
    ],
)
def test_dated_and_prefixed_names_use_the_base_price(name, base):
    assert normalize_model(name) == base


def test_an_exact_price_beats_the_base_name():
    book = PriceBook(
        [
            ("openai", "gpt-4o", _price("2.5", "10")),
            ("openai", "gpt-4o-2024-05-13", _price("5", "15")),
        ]
    )
    assert book.price_at("openai", "gpt-4o-2024-05-13", FEB).input == 5
    assert book.price_at("openai", "gpt-4o-2024-08-06", FEB).input == Decimal("2.5")


def test_price_change_between_two_requests_each_keeps_its_cost(ledger):
    price("openai", "gpt-x", "2026-01-01", "1", "2")
    price("openai", "gpt-x", "2026-02-15", "10", "20")
    record_usage(event("before", model="gpt-x", created_at=FEB))
    record_usage(event("after", model="gpt-x", created_at=MAR))
    flush_usage_sync()
    costs = dict(UsageRecord.objects.values_list("request_id", "cost"))
    assert costs == {"before": Decimal("0.002"), "after": Decimal("0.02")}


def test_a_correction_never_rewrites_a_recorded_cost(ledger):
    price("openai", "gpt-x", "2026-01-01", "1", "2")
    record_usage(event("old", model="gpt-x", created_at=FEB))
    flush_usage_sync()
    # Later someone notices the February price was wrong and inserts a correction from Jan 15.
    price("openai", "gpt-x", "2026-01-15", "3", "4")
    record_usage(event("new", model="gpt-x", created_at=FEB))
    flush_usage_sync()
    costs = dict(UsageRecord.objects.values_list("request_id", "cost"))
    assert costs["old"] == Decimal("0.002")  # frozen when it was written
    assert costs["new"] == Decimal("0.005")  # 1000 x 3 + 500 x 4 per million


def test_editing_a_price_row_does_not_touch_past_rows(ledger):
    p = price("openai", "gpt-x", "2026-01-01", "1", "2")
    record_usage(event("kept", model="gpt-x", created_at=FEB))
    flush_usage_sync()
    p.input_per_mtok = Decimal("100")
    p.save()
    assert UsageRecord.objects.get().cost == Decimal("0.002")


def test_unknown_price_stays_null_never_zero(ledger):
    record_usage(event("mystery", provider="openai", model="gpt-unknown-9"))
    record_usage(event("too-early", model="gpt-x", created_at=JAN))
    price("openai", "gpt-x", "2026-02-01", "1", "2")
    flush_usage_sync()
    assert UsageRecord.objects.get(request_id="mystery").cost is None
    assert UsageRecord.objects.get(request_id="too-early").cost is None
    assert UsageRecord.objects.filter(cost__isnull=True).count() == 2


def test_shipped_prices_cover_the_routing_table(prices):
    from ai.services.routes import FALLBACK_ROUTES, MODEL_ROUTES

    targets = {(r.provider, r.model) for r in MODEL_ROUTES.values()}
    targets |= {(r.provider, r.model) for routes in FALLBACK_ROUTES.values() for r in routes}
    targets.add(("offline", "offline-echo"))
    priced = set(ModelPrice.objects.values_list("provider", "model"))
    assert targets <= priced, targets - priced


async def test_cost_of_reads_the_cache_and_sees_a_saved_price(aledger):
    usage = Usage.of(1000, 1000)
    assert await cost_of("openai", "gpt-y", usage) is None
    await sync_to_async(price)("openai", "gpt-y", "2020-01-01", "1", "1")
    # The save signal invalidated this process's cache: the next lookup sees the price.
    assert await cost_of("openai", "gpt-y", usage) == Decimal("0.002")
    assert await cost_of("openai", "gpt-y", usage, at=datetime(2019, 1, 1, tzinfo=UTC)) is None


async def test_cost_of_after_delete(aledger):
    p = await sync_to_async(price)("openai", "gpt-z", "2020-01-01", "1", "1")
    assert await cost_of("openai", "gpt-z", Usage.of(10, 0)) == Decimal("0.00001")
    await p.adelete()
    assert await cost_of("openai", "gpt-z", Usage.of(10, 0)) is None


async def test_streamed_and_plain_rows_priced_alike(aledger):
    await sync_to_async(price)("anthropic", "claude-x", "2020-01-01", "3", "15", "0.3")
    usage = Usage.of(2000, 100, cached=1000)
    record_usage(event("s", provider="anthropic", model="claude-x", usage=usage, streamed=True))
    record_usage(event("n", provider="anthropic", model="claude-x", usage=usage))
    await flush_usage()
    costs = {r.request_id: r.cost async for r in UsageRecord.objects.all()}
    expected = await cost_of("anthropic", "claude-x", usage)
    assert costs == {"s": expected, "n": expected} and expected == Decimal("0.0048")
