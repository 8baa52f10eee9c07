"""The admin pages: load for staff, refused to everyone else, never show a key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ai.models import ModelPrice, RouteTarget, UsageRecord
from ai.providers.base import ModelComplexity, Usage
from ai.routing import db_route_source, invalidate_routes
from ai.usage.pricing import invalidate_prices
from ai.usage.recorder import write_events
from tests.usage.conftest import event, price

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clean(transactional_db):
    ModelPrice.objects.all().delete()
    RouteTarget.objects.all().delete()
    invalidate_prices()
    invalidate_routes()
    yield
    invalidate_prices()
    invalidate_routes()


@pytest.fixture
def staff_client() -> Client:
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin-1")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def user_client() -> Client:
    user = get_user_model().objects.create_user("carol", password="pw-carol-1")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data(staff_client):
    User = get_user_model()
    dave = User.objects.create_user("dave", password="pw-dave-1")
    erin = User.objects.create_user("erin", password="pw-erin-1")
    gpt = price("openai", "gpt-4o-mini", "2020-01-01", "0.15", "0.60")
    price("openai", "gpt-4o-mini", "2030-01-01", "0.10", "0.40")  # a scheduled price change
    price("anthropic", "claude-x", "2020-01-01", "3", "15")
    now = timezone.now()
    events = []
    for days_ago in range(10):
        at = now - timedelta(days=days_ago)
        events += [
            event(f"d{days_ago}", user_id=dave.pk, created_at=at, usage=Usage.of(5000, 800)),
            event(f"e{days_ago}", user_id=erin.pk, created_at=at, provider="anthropic",
                  model="claude-x", usage=Usage.of(9000, 2000, cached=3000), streamed=True),
            event(f"u{days_ago}", user_id=erin.pk, created_at=at, model="gpt-mystery",
                  status="error", error_code="upstream_timeout", usage=Usage.of(100, 0)),
        ]  # fmt: skip
    write_events(events)
    RouteTarget.objects.create(complexity="simple", position=0, provider="openai", model="gpt-x")
    return {"dave": dave, "erin": erin, "price": gpt}


def pages(data) -> list[str]:
    record = UsageRecord.objects.first()
    target = RouteTarget.objects.first()
    return [
        reverse("admin:index"),
        reverse("admin:app_list", args=["ai"]),
        reverse("admin:ai_usagerecord_changelist"),
        reverse("admin:ai_usagerecord_change", args=[record.pk]),
        reverse("admin:ai_modelprice_changelist"),
        reverse("admin:ai_modelprice_change", args=[data["price"].pk]),
        reverse("admin:ai_modelprice_add"),
        reverse("admin:ai_routetarget_changelist"),
        reverse("admin:ai_routetarget_change", args=[target.pk]),
        reverse("admin:ai_providerstatus_changelist"),
        reverse("admin:ai_usagedashboard_changelist"),
    ]


def test_every_page_loads_for_staff(staff_client, data):
    for url in pages(data):
        response = staff_client.get(url)
        assert response.status_code == 200, url


def test_every_page_is_refused_to_non_staff(user_client, data):
    for url in pages(data):
        response = user_client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_anonymous_is_sent_to_login(data):
    for url in pages(data):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_staff_without_permission_cannot_see_the_dashboard(data):
    user = get_user_model().objects.create_user("frank", password="pw-frank-1", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("admin:ai_usagedashboard_changelist")).status_code == 403
    assert client.get(reverse("admin:ai_usagerecord_changelist")).status_code == 403
    assert client.get(reverse("admin:ai_providerstatus_changelist")).status_code == 200


def test_usage_records_are_read_only(staff_client, data):
    record = UsageRecord.objects.first()
    assert staff_client.get(reverse("admin:ai_usagerecord_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:ai_usagerecord_change", args=[record.pk]), {"request_id": "forged"}
    )
    assert response.status_code == 403
    delete = reverse("admin:ai_usagerecord_delete", args=[record.pk])
    assert staff_client.get(delete).status_code == 403
    assert UsageRecord.objects.get(pk=record.pk).request_id == record.request_id


def test_usage_list_totals_filters_and_search(staff_client, data):
    url = reverse("admin:ai_usagerecord_changelist")
    totals = staff_client.get(url).context["ledger_totals"]
    assert totals["requests"] == 30 and totals["unknown"] == 10 and totals["errors"] == 10
    unknown = staff_client.get(url, {"cost": "unknown"})
    assert unknown.context["ledger_totals"]["requests"] == 10
    assert b"price unknown" in unknown.content
    assert {r.model for r in unknown.context["cl"].result_list} == {"gpt-mystery"}
    by_user = staff_client.get(url, {"user_id": data["dave"].pk})
    assert by_user.context["ledger_totals"]["requests"] == 10
    assert by_user.context["ledger_totals"]["prompt_tokens"] == 50_000
    found = staff_client.get(url, {"q": "e3"})
    assert [r.request_id for r in found.context["cl"].result_list] == ["e3"]
    by_filters = staff_client.get(url, {"provider": "anthropic", "status": "ok"})
    assert by_filters.context["ledger_totals"]["requests"] == 10
    year = timezone.now().year
    assert staff_client.get(url, {"created_at__year": year}).status_code == 200


def test_price_history_is_visible_and_edits_are_marked(staff_client, data):
    url = reverse("admin:ai_modelprice_change", args=[data["price"].pk])
    page = staff_client.get(url).content.decode()
    assert "History of this model" in page
    assert "2020-01-01" in page and "2030-01-01" in page  # both rows of gpt-4o-mini
    response = staff_client.post(
        url,
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "valid_from_0": "2020-01-01",
            "valid_from_1": "00:00:00",
            "input_per_mtok": "0.20",
            "cached_input_per_mtok": "",
            "output_per_mtok": "0.60",
            "note": "corrected",
        },
    )
    assert response.status_code == 302, response.content
    edited = ModelPrice.objects.get(pk=data["price"].pk)
    assert edited.input_per_mtok == Decimal("0.20") and edited.source == "admin"
    # Recorded costs are frozen: dave's rows keep the cost computed at 0.15.
    assert UsageRecord.objects.get(request_id="d0").cost == Decimal("0.00123")


def test_unpriced_models_are_flagged(staff_client, data):
    page = staff_client.get(reverse("admin:ai_modelprice_changelist")).content.decode()
    assert "Models used without a price" in page and "gpt-mystery" in page
    assert "model=gpt-mystery" in page  # the "add a price" link


def test_route_edit_applies_without_restart(staff_client, data, settings):
    settings.AI_ROUTES_CACHE_SECONDS = 3600
    routes = async_to_sync(db_route_source)
    assert [r.model for r in routes(ModelComplexity.SIMPLE)] == ["gpt-x"]
    target = RouteTarget.objects.get()
    response = staff_client.post(
        reverse("admin:ai_routetarget_change", args=[target.pk]),
        {
            "complexity": "simple",
            "position": 0,
            "provider": "anthropic",
            "model": "claude-haiku-4-5",
            "enabled": "on",
            "cost_per_1k_tokens": "0",
        },
    )
    assert response.status_code == 302, response.content
    assert [(r.provider, r.model) for r in routes(ModelComplexity.SIMPLE)] == [
        ("anthropic", "claude-haiku-4-5")
    ]
    page = staff_client.get(reverse("admin:ai_routetarget_changelist")).content.decode()
    assert "Effective routes" in page and "anthropic/claude-haiku-4-5" in page
    assert "code defaults" in page  # the complexities without rows


def test_providers_page_never_shows_a_key(staff_client, settings):
    settings.OPENAI_API_KEY = "sk-live-SECRET-openai-123"
    settings.ANTHROPIC_API_KEY = "sk-ant-SECRET-456"
    settings.GOOGLE_API_KEY = "AIza-SECRET-789"
    settings.OPENAI_BASE_URL = "https://proxyuser:sk-SECRET-proxy@proxy.example:8443/v1?key=SECRET"
    page = staff_client.get(reverse("admin:ai_providerstatus_changelist")).content.decode()
    assert "SECRET" not in page
    assert "proxyuser" not in page
    assert "https://proxy.example:8443/v1" in page
    assert "OPENAI_API_KEY" in page  # which setting holds the key, not its value
    for name in ("openai", "anthropic", "gemini", "offline"):
        assert f"<strong>{name}</strong>" in page
    assert page.count(">yes<") == 4


def test_providers_page_shows_unconfigured_providers(staff_client, settings):
    settings.OPENAI_API_KEY = None
    page = staff_client.get(reverse("admin:ai_providerstatus_changelist")).content.decode()
    assert "set AI_OPENAI_API_KEY" in page
    assert "(vendor default)" in page


def test_dashboard_renders_charts_with_the_numbers(staff_client, data):
    response = staff_client.get(reverse("admin:ai_usagedashboard_changelist"))
    page = response.content.decode()
    assert page.count('<svg class="ai-chart"') == 3  # spend, tokens and requests per day
    assert "Spend per day" in page and "Top users by spend" in page
    assert "dave" in page and "erin" in page
    assert "anthropic/claude-x" in page
    assert "gpt-mystery" in page and "add a price" in page
    assert response.context["totals"]["requests"] == 30
    assert response.context["totals"]["cost_unknown_requests"] == 10
    assert 'href="/static/ai/admin.css"' in page
    week = staff_client.get(reverse("admin:ai_usagedashboard_changelist"), {"days": "7"})
    assert week.context["totals"]["requests"] == 21
    odd = staff_client.get(reverse("admin:ai_usagedashboard_changelist"), {"days": "x"})
    assert odd.context["days"] == 30


def test_dashboard_with_no_usage(staff_client):
    page = staff_client.get(reverse("admin:ai_usagedashboard_changelist")).content.decode()
    assert "No usage in this period." in page


def test_chart_values_are_escaped(staff_client, data):
    UsageRecord.objects.filter(request_id="d0").update(model="<script>x</script>")
    invalidate_prices()
    page = staff_client.get(reverse("admin:ai_usagedashboard_changelist")).content.decode()
    assert "<script>x</script>" not in page


def test_price_valid_from_is_timezone_aware(data):
    assert data["price"].valid_from == datetime(2020, 1, 1, tzinfo=UTC)


def _row_totals(**filters) -> dict:
    from ai.admin import UsageRecordAdmin

    return UsageRecordAdmin._sum_rows(UsageRecord.objects.filter(**filters))


def test_totals_from_the_roll_ups_match_the_rows(staff_client, data):
    from django.core.management import call_command

    call_command("ai_rollup_usage", "--days", "12", verbosity=0)
    url = reverse("admin:ai_usagerecord_changelist")
    today = timezone.localdate()
    since = timezone.make_aware(datetime(today.year, today.month, today.day)) - timedelta(days=6)
    cases = [
        ({}, {}),
        ({"provider": "anthropic"}, {"provider": "anthropic"}),
        ({"status__exact": "error"}, {"status": "error"}),
        ({"user_id": str(data["dave"].pk)}, {"user_id": data["dave"].pk}),
        ({"model": "gpt-4o-mini", "status__exact": "ok"}, {"model": "gpt-4o-mini", "status": "ok"}),
        ({"created_at__gte": str(since)}, {"created_at__gte": since}),
    ]
    for params, filters in cases:
        totals = staff_client.get(url, params).context["ledger_totals"]
        assert totals.pop("from_rollup") is True, params
        expected = _row_totals(**filters)
        assert {k: totals[k] or 0 for k in expected} == {k: v or 0 for k, v in expected.items()}
    # A filter the roll-ups cannot answer: the rows are summed.
    totals = staff_client.get(url, {"usage_source__exact": "reported"}).context["ledger_totals"]
    assert "from_rollup" not in totals and totals["requests"] == 30


def test_date_hierarchy_links_come_from_the_roll_up(staff_client, data):
    from django.core.management import call_command

    call_command("ai_rollup_usage", "--days", "12", verbosity=0)
    url = reverse("admin:ai_usagerecord_changelist")
    now = timezone.localtime()
    page = staff_client.get(url, {"created_at__year": now.year, "created_at__month": now.month})
    assert page.status_code == 200
    assert f"created_at__day={now.day}" in page.content.decode()


def test_the_list_count_is_capped(staff_client, data, monkeypatch):
    monkeypatch.setattr("ai.usage.admin_queries.COUNT_CAP", 5)
    monkeypatch.setattr("ai.admin.COUNT_CAP", 5)
    response = staff_client.get(reverse("admin:ai_usagerecord_changelist"))
    assert response.context["cl"].result_count == 6
    assert "More than 5 records match" in response.content.decode()
    assert response.context["ledger_totals"]["requests"] == 30  # the totals are not capped


def test_search_is_an_exact_request_id_match(staff_client, data):
    url = reverse("admin:ai_usagerecord_changelist")
    assert len(staff_client.get(url, {"q": " d4 "}).context["cl"].result_list) == 1
    assert len(staff_client.get(url, {"q": "D4"}).context["cl"].result_list) == 0
    assert len(staff_client.get(url, {"q": "d"}).context["cl"].result_list) == 0


def test_a_declared_compatible_provider_is_listed_and_choosable(settings):
    """The dashboard's provider table and the route/price provider choices include it."""
    from ai.models import provider_choices
    from ai.usage.dashboard import provider_rows

    settings.AI_PROVIDERS = {"groq": {"base_url": "https://u:p@api.groq.test/openai/v1"}}
    [row] = [r for r in provider_rows() if r["name"] == "groq"]
    assert row["configured"] is True
    assert "p@" not in row["base_url"] and "api.groq.test" in row["base_url"]
    assert ("groq", "groq") in provider_choices()
