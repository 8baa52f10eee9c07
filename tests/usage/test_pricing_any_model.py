"""A provider-wide price (model "*") applies to every model of its provider that has no price of
its own: how the offline provider is free whatever model name it was routed."""

from datetime import UTC, datetime
from decimal import Decimal

from ai.providers.base import Usage
from ai.usage.pricing import Price, PriceBook

START = datetime(2024, 1, 1, tzinfo=UTC)


def price(i: str, o: str) -> Price:
    return Price(input=Decimal(i), output=Decimal(o), cached_input=None, valid_from=START)


def test_provider_wide_price_applies_when_the_model_has_none():
    book = PriceBook(
        [("offline", "*", price("0", "0")), ("offline", "offline-echo", price("1", "2"))]
    )
    usage = Usage.of(10, 5)
    assert book.cost("offline", "claude-sonnet-4-5-20250929", usage) == Decimal(0)
    # A model's own price wins over the provider-wide one.
    assert book.cost("offline", "offline-echo", usage) == Decimal("0.00002")
    # The wildcard is per provider: an unpriced model elsewhere stays unknown, never $0.
    assert book.cost("anthropic", "claude-sonnet-4-5-20250929", usage) is None
