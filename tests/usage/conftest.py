"""Fixtures for the ledger tests: a clean ledger per test, users, prices, event factories."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections

from ai.models import ModelPrice, RouteTarget
from ai.providers.base import Usage
from ai.routing import invalidate_routes
from ai.usage import flush_usage_sync
from ai.usage.events import UsageEvent
from ai.usage.price_data import apply_prices, read_price_file
from ai.usage.pricing import invalidate_prices


@pytest.fixture
def ledger(transactional_db):
    """An empty ledger and price table; the writer is drained after the test, so no row
    of this test lands in the next one."""
    ModelPrice.objects.all().delete()
    RouteTarget.objects.all().delete()
    invalidate_prices()
    invalidate_routes()
    yield
    flush_usage_sync()
    invalidate_prices()
    invalidate_routes()


@pytest.fixture
async def aledger(ledger):
    """:func:`ledger` for async tests: also closes the connection Django's async ORM opened in
    asgiref's executor thread (left open, it blocks dropping the PostgreSQL test database)."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def prices(ledger):
    """The shipped price list."""
    apply_prices(read_price_file())
    invalidate_prices()


@pytest.fixture
def alice(ledger):
    return get_user_model().objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(ledger):
    return get_user_model().objects.create_user("bob", password="bob-password-1")


def price(
    provider: str, model: str, valid_from: str, inp: str, out: str, cached: str | None = None
) -> ModelPrice:
    return ModelPrice.objects.create(
        provider=provider,
        model=model,
        valid_from=datetime.fromisoformat(valid_from).replace(tzinfo=UTC),
        input_per_mtok=Decimal(inp),
        output_per_mtok=Decimal(out),
        cached_input_per_mtok=None if cached is None else Decimal(cached),
    )


def event(request_id: str, **kwargs: Any) -> UsageEvent:
    """A UsageEvent with sensible defaults (an ok, non-streamed gpt-4o-mini call)."""
    fields: dict[str, Any] = {
        "endpoint": "chat",
        "status": "ok",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "usage": Usage.of(1000, 500),
    }
    fields.update(kwargs)
    return UsageEvent(request_id=request_id, **fields)
