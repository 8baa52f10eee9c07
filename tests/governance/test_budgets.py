"""Budgets through the API: the worst-case reservation, 402 naming the budget and its reset,
settlement to the real cost on success, failure, streams and disconnects, and 100 concurrent
requests that cannot spend past a small budget (on PostgreSQL under CI's DATABASE_URL, and
counted in Redis under its REDIS_URL).

Prices (tests/governance/conftest.py): 0.001 USD a prompt token, 0.002 USD a completion token.
"hello there" with max_tokens 10 reserves 0.038 USD (18 prompt tokens at most: 11 bytes + 4 for
the message + 3; 10 completion tokens) and costs 0.013 USD (3 + 5 tokens).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.db.models import Sum
from django.utils import timezone

import ai.usage
from ai.governance import get_store
from ai.governance.budgets import period
from ai.models import ApiKey, ModelPrice, UsageRecord, UserLimits
from ai.usage import flush_usage
from ai.usage.ledger import record_usage
from tests.api.conftest import CHAT, ROUTED, ApiClient, scripted_provider  # noqa: F401 (a fixture)
from tests.api.live import LiveGateway
from tests.governance.conftest import cost_of

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"prompt": "hello there", "max_tokens": 10}
NANO = 1_000_000_000


@pytest.fixture(autouse=True)
def usage_events(monkeypatch):
    events: list = []
    monkeypatch.setattr(ai.usage, "record_usage", events.append)
    return events


async def _counter(kind: str, ident: object, which: str = "daily") -> tuple[int, int]:
    """``(spent, reserved)`` in nano-USD of a budget counter this period."""
    suffix, _ = period(which, time.time())
    store = get_store()
    await store.drain()  # settlements go in the background on Redis
    return await store.read_budget(f"ai:gov:spend:{kind}:{ident}:{suffix}")


async def test_an_exceeded_budget_is_402_naming_it_and_its_reset(api, user, priced, settings):
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "0.05"
    first = await api.post(CHAT, HELLO)
    assert first.status_code == 200
    assert Decimal(first.json()["cost"]) == cost_of(3, 5) == Decimal("0.013")
    assert await _counter("user", user.pk) == (13_000_000, 0)

    refused = await api.post(CHAT, HELLO)  # 0.013 spent + 0.038 > 0.05
    assert refused.status_code == 402
    error = refused.json()["error"]
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    assert error["code"] == "budget_exceeded"
    assert error["message"] == (
        "Budget exceeded: the daily budget of 0.050000 USD for the user has 0.013000 USD spent "
        "and 0.000000 USD reserved by requests in flight; this request may cost up to 0.038000 "
        f"USD. It resets at {tomorrow}T00:00:00Z."
    )
    assert await _counter("user", user.pk) == (13_000_000, 0)  # the refusal took nothing


async def test_without_max_tokens_the_configured_cap_is_reserved(api, priced, settings):
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "1.00"
    settings.AI_BUDGET_DEFAULT_MAX_TOKENS = 1000  # 18 * 0.001 + 1000 * 0.002 = 2.018 USD
    refused = await api.post(CHAT, {"prompt": "hello there"})
    assert refused.status_code == 402
    assert "may cost up to 2.018000 USD" in refused.json()["error"]["message"]
    settings.AI_BUDGET_DEFAULT_MAX_TOKENS = 400  # 0.818 USD
    assert (await api.post(CHAT, {"prompt": "hello there"})).status_code == 200


async def test_without_max_tokens_a_thinking_budget_is_reserved_too(api, priced, settings):
    # A reasoning request without max_tokens may think for its whole budget on top of the
    # usual answer (Claude is given that room): the reservation counts both.
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "5.00"
    settings.AI_BUDGET_DEFAULT_MAX_TOKENS = 400
    settings.AI_REASONING_BUDGETS = {"low": 2000}  # 18 * 0.001 + 2400 * 0.002 = 4.818 USD
    asked = {"prompt": "hello there", "reasoning_effort": "low"}
    assert (await api.post(CHAT, asked)).status_code == 200
    settings.AI_REASONING_BUDGETS = {"low": 2400}  # 5.618 USD
    refused = await api.post(CHAT, asked)
    assert refused.status_code == 402
    assert "may cost up to 5.618000 USD" in refused.json()["error"]["message"]


async def test_user_monthly_and_key_daily_budgets(api, user, priced):
    await UserLimits.objects.acreate(user=user, monthly_budget_usd=Decimal("0.05"))
    assert (await api.post(CHAT, HELLO)).status_code == 200
    refused = await api.post(CHAT, HELLO)
    assert refused.status_code == 402
    next_month = (timezone.now().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    message = refused.json()["error"]["message"]
    assert "the monthly budget of 0.050000 USD for the user" in message
    assert f"resets at {next_month}-01T00:00:00Z" in message

    await UserLimits.objects.filter(user=user).aupdate(monthly_budget_usd=None)
    from ai.governance.policy import forget_override

    forget_override(user.pk)  # update() sends no signal
    key, secret = await sync_to_async(ApiKey.issue)(user, "ci", daily_budget_usd=Decimal("0.04"))
    by_key = ApiClient(None)
    assert (await by_key.post(CHAT, HELLO, headers={"x-api-key": secret})).status_code == 200
    refused = await by_key.post(CHAT, HELLO, headers={"x-api-key": secret})
    assert refused.status_code == 402
    assert (
        f"the daily budget of 0.040000 USD for API key {key.prefix}"
        in (refused.json()["error"]["message"])
    )
    assert await _counter("key", key.pk) == (13_000_000, 0)


async def test_a_failed_call_gives_the_whole_reservation_back(
    api,
    user,
    settings,
    scripted_provider,  # noqa: F811
):
    await ModelPrice.objects.acreate(
        provider="scripted",
        model="scripted-1",
        input_per_mtok=Decimal(1000),
        output_per_mtok=Decimal(2000),
        valid_from=timezone.now() - timedelta(days=1),
    )
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "1"
    failed = await api.post(
        CHAT, {"prompt": "[[raise:upstream_unavailable]]", "provider": "scripted", "max_tokens": 9}
    )
    assert failed.status_code == 503
    assert await _counter("user", user.pk) == (0, 0)
    # A stream that fails after its first delta is charged what it used, nothing reserved.
    stream = await api.post(
        CHAT,
        {
            "prompt": "[[midstream:upstream_error]]",
            "provider": "scripted",
            "max_tokens": 50,
            "stream": True,
        },
    )
    assert stream.status_code == 200
    b"".join([chunk async for chunk in stream.streaming_content])
    spent, reserved = await _counter("user", user.pk)
    assert reserved == 0 and spent > 0


# --- over real HTTP, against the gateway served by uvicorn --------------------------------------


@pytest.fixture
def live(transactional_db):
    server = LiveGateway().start()
    yield server
    server.stop()


@pytest.fixture
async def http(live, token):
    async with httpx2.AsyncClient(
        base_url=live.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=httpx2.Limits(max_connections=200, max_keepalive_connections=200),
    ) as client:
        yield client


async def test_100_concurrent_requests_cannot_spend_past_the_budget(
    http, user, priced, settings, monkeypatch
):
    """Each request may cost 0.039 USD and costs 0.013: with 0.50 USD, between 12 (all at once)
    and 38 (one after another) can be answered; the ledger and the counter agree to the
    nano-dollar and never pass the budget."""
    monkeypatch.setattr(ai.usage, "record_usage", record_usage)  # the real ledger
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "0.50"
    settings.AI_OFFLINE_DELAY_MS = 50  # so that they overlap

    async def one(i: int) -> httpx2.Response:
        return await http.post(CHAT, json={"prompt": f"question {i:03d}", "max_tokens": 10})

    responses = await asyncio.gather(*(one(i) for i in range(100)))
    statuses = [r.status_code for r in responses]
    answered = statuses.count(200)
    assert statuses.count(402) == 100 - answered
    assert 12 <= answered <= 38
    assert all(r.json()["error"]["code"] == "budget_exceeded" for r in responses if r.is_error)

    await flush_usage()
    rows = UsageRecord.objects.filter(user=user, status="ok")
    recorded = await rows.aaggregate(spend=Sum("cost"))
    assert await rows.acount() == answered
    assert recorded["spend"] == answered * cost_of(3, 5) <= Decimal("0.50")
    assert await _counter("user", user.pk) == (answered * 13_000_000, 0)


async def test_streams_and_disconnects_settle(http, user, priced, settings):
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "1"
    async with http.stream("POST", CHAT, json={**HELLO, "stream": True}) as response:
        assert response.status_code == 200
        await response.aread()
    assert await _settled(user) == (13_000_000, 0)

    settings.AI_OFFLINE_DELAY_MS = 10_000  # 10 s spread over the answer's words
    async with http.stream(
        "POST", CHAT, json={"prompt": "a slow answer please", "max_tokens": 10, "stream": True}
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break  # hang up after the first delta
    spent, reserved = await _settled(user)
    assert reserved == 0
    # Charged what the cut stream used (estimated), less than its 0.041 USD reservation.
    assert 13_000_000 < spent < 13_000_000 + 41_000_000


async def _settled(user) -> tuple[int, int]:
    """The user's daily counter once nothing is reserved (the server settles as it notices the
    disconnect), or as it is after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        spent, reserved = await _counter("user", user.pk)
        if reserved == 0 or time.monotonic() > deadline:
            return spent, reserved
        await asyncio.sleep(0.02)


async def test_a_fallback_is_one_request_reserved_at_its_dearest_target(
    api,
    user,
    priced,
    settings,
    scripted_provider,  # noqa: F811
):
    """A route of scripted-1 (fails, retryable) then the offline model: one request against the
    rpm limit, and the reservation priced at the dearer of the two (scripted-1 at 10x)."""
    from ai.models import RouteTarget
    from ai.routing import invalidate_routes

    await ModelPrice.objects.acreate(
        provider="scripted",
        model="scripted-1",
        input_per_mtok=Decimal(10_000),
        output_per_mtok=Decimal(20_000),
        valid_from=timezone.now() - timedelta(days=1),
    )
    await RouteTarget.objects.acreate(
        complexity="simple", position=0, provider="scripted", model="scripted-1"
    )
    await RouteTarget.objects.acreate(
        complexity="simple", position=1, provider="offline", model="offline-echo"
    )
    invalidate_routes()
    settings.AI_DEFAULT_RPM = 10
    settings.AI_DEFAULT_DAILY_BUDGET_USD = "0.30"  # scripted-1: 0.57 USD at worst, offline 0.057
    body = {"prompt": "[[raise:upstream_unavailable]]", "complexity": "simple", "max_tokens": 10}
    refused = await api.post(ROUTED, body)
    assert refused.status_code == 402
    assert "may cost up to 0.570000 USD" in refused.json()["error"]["message"]

    settings.AI_DEFAULT_DAILY_BUDGET_USD = "1"
    answered = await api.post(ROUTED, body)
    assert answered.status_code == 200, answered.content
    assert answered.json()["provider"] == "offline"  # after scripted-1 failed
    assert answered["x-ratelimit-remaining-requests"] == "9"  # one request, two attempts
    # Charged the offline answer's real cost; nothing left reserved.
    spent, reserved = await _counter("user", user.pk)
    assert reserved == 0
    assert spent == int(Decimal(answered.json()["cost"]) * NANO)


async def test_counters_seeded_from_the_ledger(api, user, priced, settings):
    """After the cache lost its counters, `ai_budgets seed` puts the ledger's spend back."""
    import io

    from django.core.management import call_command

    settings.AI_DEFAULT_DAILY_BUDGET_USD = "0.05"
    await UsageRecord.objects.acreate(
        user=user, endpoint="chat", status="ok", request_id="earlier", cost=Decimal("0.02")
    )
    out = io.StringIO()
    await sync_to_async(call_command)("ai_budgets", "seed", "--allow-local", stdout=out)
    assert "seeded 2 budget counters" in out.getvalue()  # the user's day and month
    assert await _counter("user", user.pk) == (20_000_000, 0)
    assert await _counter("user", user.pk, "monthly") == (20_000_000, 0)
    refused = await api.post(CHAT, HELLO)  # 0.02 + 0.038 > 0.05
    assert refused.status_code == 402
    assert "0.020000 USD spent" in refused.json()["error"]["message"]
