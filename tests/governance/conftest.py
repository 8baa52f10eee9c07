"""Fixtures for the rate limit and budget tests: fresh counts per test (the process's memory
store, or the tests' keys in Redis under CI's REDIS_URL), a price for the offline model, and
the usage events the gateway records."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from ai import governance
from ai.api.authentication import clear_auth_caches
from ai.services import factory
from ai.services.router import clear_router_cache

#: The offline model's price in these tests, USD per million tokens: 0.001 USD a prompt token,
#: 0.002 USD a completion token.
INPUT_PER_MTOK = Decimal(1000)
OUTPUT_PER_MTOK = Decimal(2000)


def _clear_redis() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(match="*ai:gov:*", count=1000))
        if names:
            client.delete(*names)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _fresh_counts():
    governance.reset()
    _clear_redis()
    clear_auth_caches()
    factory.clear_llm_cache()
    clear_router_cache()
    yield
    governance.reset()
    _clear_redis()
    clear_auth_caches()
    factory.clear_llm_cache()
    clear_router_cache()


@pytest.fixture(autouse=True)
async def _close_connections():
    """Closes the connection Django's async ORM opened in asgiref's executor thread (left open,
    it blocks dropping the PostgreSQL test database)."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def priced(transactional_db):
    """The offline model at :data:`INPUT_PER_MTOK` / :data:`OUTPUT_PER_MTOK` from yesterday."""
    from ai.models import ModelPrice

    ModelPrice.objects.create(
        provider="offline",
        model="offline-echo",
        input_per_mtok=INPUT_PER_MTOK,
        output_per_mtok=OUTPUT_PER_MTOK,
        valid_from=timezone.now() - timedelta(days=1),
    )
    return INPUT_PER_MTOK, OUTPUT_PER_MTOK


def cost_of(prompt_tokens: int, completion_tokens: int) -> Decimal:
    return (prompt_tokens * INPUT_PER_MTOK + completion_tokens * OUTPUT_PER_MTOK) / 1_000_000
