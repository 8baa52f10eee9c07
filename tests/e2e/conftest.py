"""End to end: HTTP API -> router -> real provider SDK -> fake upstream, with the real ledger."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from ai.api.authentication import clear_auth_caches
from ai.services import factory
from ai.services.router import clear_router_cache
from tests.api.live import LiveGateway

PROVIDERS = ("openai", "anthropic", "gemini")
MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5-20250929",
    "gemini": "gemini-2.5-flash",
}


@pytest.fixture(autouse=True)
def _fresh_state(upstream_settings, transactional_db):
    # Transactional tests truncate every table afterwards, the rows the data migration seeded
    # (prices, routes) included: load the shipped prices again for each test.
    from ai.usage.price_data import apply_prices, read_price_file
    from ai.usage.pricing import invalidate_prices

    apply_prices(read_price_file())
    invalidate_prices()
    clear_auth_caches()
    clear_router_cache()
    upstream_settings.AI_MAX_RETRIES = 0
    yield
    clear_auth_caches()
    clear_router_cache()
    factory.clear_llm_cache()


@pytest.fixture
def live(transactional_db):
    server = LiveGateway().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
async def _close_provider_clients(_fresh_state):
    """The providers' clients belong to the test's event loop: close them before it ends. The
    ledger's rows are written before the database is emptied (a write racing the truncation
    can deadlock on PostgreSQL)."""
    yield
    await factory.aclose_providers()
    from ai.usage import flush_usage

    await flush_usage(timeout=10)


async def ledger_rows(n: int) -> list:
    """The ledger's rows, once there are ``n`` (a stream records after its last frame)."""
    from ai.models import UsageRecord
    from ai.usage import flush_usage

    found: list = []
    for _ in range(100):
        await flush_usage()
        found = await sync_to_async(lambda: list(UsageRecord.objects.order_by("id")))()
        if len(found) >= n:
            break
        await asyncio.sleep(0.05)
    assert len(found) == n, found
    return found


def assert_rows_have_usage(found: list, request_ids: list[str], vendor: str, endpoint: str):
    """Each row is its request's (in order), ok, from ``vendor`` on ``endpoint``, with usage."""
    assert [row.request_id for row in found] == request_ids
    for row in found:
        assert (row.status, row.provider, row.endpoint) == ("ok", vendor, endpoint)
        assert row.prompt_tokens > 0 and row.completion_tokens > 0
        assert row.total_tokens == row.prompt_tokens + row.completion_tokens
