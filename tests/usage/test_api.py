"""GET /api/v1/app/ai/usage: totals, breakdowns, pagination, isolation between users."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from ai.providers.base import Usage
from ai.usage.recorder import write_events
from ai.usage.rollup import local_today, rollup_days
from tests.usage.conftest import event, price

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/app/ai/usage"


async def get(user, query: str = "") -> tuple[int, dict, object]:
    headers = {"authorization": f"Bearer {AccessToken.for_user(user)}"} if user else {}
    response = await AsyncClient().get(f"{URL}{query}", headers=headers)
    return response.status_code, json.loads(response.content), response


@pytest.fixture
def traffic(alice, bob):
    price("openai", "gpt-4o-mini", "2020-01-01", "0.15", "0.60")
    price("anthropic", "claude-x", "2020-01-01", "3", "15")
    now = timezone.now()
    events = [
        event("a-today-1", user_id=alice.pk, created_at=now - timedelta(minutes=5)),
        event("a-today-2", user_id=alice.pk, created_at=now - timedelta(minutes=4),
              provider="anthropic", model="claude-x", usage=Usage.of(200, 100), streamed=True),
        event("a-3d", user_id=alice.pk, created_at=now - timedelta(days=3),
              model="gpt-unpriced", status="error", error_code="upstream_timeout"),
        event("a-40d", user_id=alice.pk, created_at=now - timedelta(days=40)),
        event("b-today", user_id=bob.pk, created_at=now - timedelta(minutes=1),
              usage=Usage.of(9999, 9999)),
    ]  # fmt: skip
    write_events(events)


@pytest.fixture
def staff(ledger):
    return get_user_model().objects.create_user("root", password="root-pass-1", is_staff=True)


async def test_own_usage_totals_and_breakdowns(traffic, alice, aledger):
    status, body, response = await get(alice)
    assert status == 200
    assert response.headers["X-Request-ID"]
    assert body["user"] == {"id": alice.pk, "username": "alice"}
    assert body["end"] == local_today().isoformat()
    assert len(body["by_day"]) == 30  # default range: the last 30 days, every day listed
    totals = body["totals"]
    assert totals["requests"] == 3  # the 40-day-old row is outside the range; bob's is not hers
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (2200, 1100)
    assert (totals["errors"], totals["streamed"], totals["cost_unknown_requests"]) == (1, 1, 1)
    # 1000 x 0.15 + 500 x 0.60 (gpt-4o-mini) + 200 x 3 + 100 x 15 (claude-x), per million.
    assert Decimal(totals["cost"]) == Decimal("0.00045") + Decimal("0.0021")
    models = {(m["provider"], m["model"]): m for m in body["by_model"]}
    assert models[("openai", "gpt-unpriced")]["cost_unknown_requests"] == 1
    assert models[("anthropic", "claude-x")]["requests"] == 1
    assert [p["provider"] for p in body["by_provider"]] == ["anthropic", "openai"]
    records = body["records"]
    assert records["count"] == 3
    assert [r["request_id"] for r in records["results"]] == ["a-today-2", "a-today-1", "a-3d"]
    unpriced = records["results"][2]
    assert unpriced["cost"] is None and unpriced["error_code"] == "upstream_timeout"


async def test_rolled_up_days_and_ledger_days_add_up(traffic, alice, aledger):
    _, before, _ = await get(alice)
    await sync_to_async(rollup_days)([local_today() - timedelta(days=d) for d in range(1, 10)])
    _, after, _ = await get(alice)
    assert after["totals"] == before["totals"]
    assert after["by_day"] == before["by_day"]


async def test_pagination(traffic, alice, aledger):
    _, body, _ = await get(alice, "?page_size=2")
    records = body["records"]
    assert (records["count"], records["pages"], len(records["results"])) == (3, 2, 2)
    assert records["previous"] is None and "page=2" in records["next"]
    _, body2, _ = await get(alice, "?page_size=2&page=2")
    assert [r["request_id"] for r in body2["records"]["results"]] == ["a-3d"]
    assert body2["records"]["next"] is None
    _, body9, _ = await get(alice, "?page_size=2&page=9")
    assert body9["records"]["results"] == []


async def test_date_range(traffic, alice, aledger):
    start = (local_today() - timedelta(days=45)).isoformat()
    _, body, _ = await get(alice, f"?start={start}")
    assert body["totals"]["requests"] == 4 and len(body["by_day"]) == 46
    day = (local_today() - timedelta(days=3)).isoformat()
    _, body, _ = await get(alice, f"?start={day}&end={day}")
    assert [r["request_id"] for r in body["records"]["results"]] == ["a-3d"]


async def test_users_never_see_each_other(traffic, alice, bob, aledger):
    _, body, _ = await get(bob)
    assert body["totals"]["requests"] == 1
    assert [r["request_id"] for r in body["records"]["results"]] == ["b-today"]
    for query in (f"?user={alice.pk}", "?user=all"):
        status, body, _ = await get(bob, query)
        assert status == 403, query
        assert body["error"]["code"] == "permission_denied"
    status, body, _ = await get(bob, f"?user={bob.pk}")
    assert status == 200 and body["totals"]["requests"] == 1


async def test_staff_may_ask_for_any_user(traffic, alice, staff, aledger):
    status, body, _ = await get(staff, f"?user={alice.pk}")
    assert status == 200 and body["user"]["username"] == "alice"
    assert body["totals"]["requests"] == 3
    _, everyone, _ = await get(staff, "?user=all")
    assert everyone["user"] is None and everyone["totals"]["requests"] == 4
    status, body, _ = await get(staff, "?user=987654")
    assert status == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?start=yesterday", "start"),
        ("?end=2026-13-01", "end"),
        ("?start=2026-02-01&end=2026-01-01", "end"),
        ("?start=2020-01-01&end=2026-01-01", "start"),
        ("?page=0", "page"),
        ("?page=x", "page"),
        ("?page_size=1000", "page_size"),
        ("?user=alice", "user"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(alice, aledger, query, field):
    status, body, _ = await get(alice, query)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert list(body["error"]["fields"]) == [field]


async def test_authentication_required(aledger):
    status, _, _ = await get(None)
    assert status == 401
