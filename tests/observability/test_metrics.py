"""The Prometheus metrics after known requests, and who may read them."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ai import metrics
from tests.api.conftest import CHAT, COMPLETIONS
from tests.api.sse_client import parse_sse
from tests.observability.conftest import METRICS

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPTED = {"provider": "scripted", "model": "scripted-1"}


async def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of the endpoint's answer: (name, labels) -> value."""
    response = await client.get(METRICS)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_requests_durations_tokens_and_cost_after_known_requests(
    api, staff, scripted_provider
):
    from ai.models import ModelPrice

    await ModelPrice.objects.acreate(
        provider="scripted", model="scripted-1", input_per_mtok=1, output_per_mtok=2
    )
    before = await scrape(staff)
    for n in range(2):
        ok = await api.post(CHAT, {"prompt": f"hello {n}", "provider": "scripted"})
        assert ok.status_code == 200, ok.content
    failed = await api.post(CHAT, {"prompt": "[[raise:upstream_unavailable]]", **SCRIPTED})
    assert failed.status_code == 503
    streamed = await api.post(
        COMPLETIONS,
        {"messages": [{"role": "user", "content": "hi"}], "provider": "scripted", "stream": True},
    )
    assert streamed.status_code == 200
    assert parse_sse(b"".join([chunk async for chunk in streamed.streaming_content]))
    after = await scrape(staff)

    chat = {"surface": "chat", **SCRIPTED, "route": "default"}
    total = "ai_gateway_requests_total"
    assert delta(before, after, total, **chat, outcome="ok", error_code="") == 2
    assert (
        delta(before, after, total, **chat, outcome="error", error_code="upstream_unavailable") == 1
    )
    completions = {"surface": "completions", **SCRIPTED, "route": "default"}
    assert delta(before, after, total, **completions, outcome="ok", error_code="") == 1

    duration = "ai_gateway_request_duration_seconds"
    ok_labels = {"surface": "chat", **SCRIPTED, "outcome": "ok"}
    assert delta(before, after, f"{duration}_count", **ok_labels) == 2
    assert delta(before, after, f"{duration}_bucket", **ok_labels, le="+Inf") == 2
    assert delta(before, after, f"{duration}_sum", **ok_labels) > 0
    error_labels = {"surface": "chat", **SCRIPTED, "outcome": "error"}
    assert delta(before, after, f"{duration}_count", **error_labels) == 1

    ttft = "ai_gateway_time_to_first_token_seconds"
    assert delta(before, after, f"{ttft}_count", surface="completions", **SCRIPTED) == 1
    assert delta(before, after, f"{ttft}_count", surface="chat", **SCRIPTED) == 0

    # The scripted provider reports 7 prompt and 3 completion tokens per answer.
    tokens = "ai_gateway_tokens_total"
    assert delta(before, after, tokens, **SCRIPTED, kind="prompt") == 3 * 7
    assert delta(before, after, tokens, **SCRIPTED, kind="completion") == 3 * 3
    per_answer = float((7 * Decimal(1) + 3 * Decimal(2)) / 1_000_000)
    cost = delta(before, after, "ai_gateway_cost_usd_total", **SCRIPTED)
    assert math.isclose(cost, 3 * per_answer, rel_tol=1e-9)

    for gauge in ("ai_gateway_requests_in_flight", "ai_gateway_streams_in_flight"):
        assert value(after, gauge, surface="chat") == 0
        assert value(after, gauge, surface="completions") == 0


async def test_in_flight_counts_a_stream_being_relayed(api, staff, scripted_provider):
    response = await api.post(CHAT, {"prompt": "[[slow]]", "provider": "scripted", "stream": True})
    assert response.status_code == 200
    chunks = aiter(response)
    await anext(chunks)
    during = await scrape(staff)
    assert value(during, "ai_gateway_streams_in_flight", surface="chat") == 1
    assert value(during, "ai_gateway_requests_in_flight", surface="chat") == 0
    await chunks.aclose()
    after = await scrape(staff)
    assert value(after, "ai_gateway_streams_in_flight", surface="chat") == 0
    cancelled = {"surface": "chat", **SCRIPTED, "route": "default", "error_code": ""}
    assert delta(during, after, "ai_gateway_requests_total", **cancelled, outcome="cancelled") == 1


async def test_retries_are_counted(api, staff, scripted_provider, settings):
    settings.AI_MAX_RETRIES = 2
    settings.AI_RETRY_BACKOFF_MS = 0
    before = await scrape(staff)
    response = await api.post(CHAT, {"prompt": "[[raise:upstream_unavailable]]", **SCRIPTED})
    assert response.status_code == 503
    after = await scrape(staff)
    retries = "ai_gateway_upstream_retries_total"
    assert delta(before, after, retries, **SCRIPTED, error_code="upstream_unavailable") == 2


async def test_a_scraper_with_the_token(api, anon, settings):
    settings.AI_METRICS_TOKEN = "scrape-me-0123456789"
    response = await anon.get(METRICS, headers={"authorization": "Bearer scrape-me-0123456789"})
    assert response.status_code == 200
    assert b"# TYPE ai_gateway_requests_total counter" in response.content
    wrong = await anon.get(METRICS, headers={"authorization": "Bearer scrape-me-012345678X"})
    assert wrong.status_code == 401
    assert (await anon.get(METRICS)).status_code == 401


async def test_a_user_who_is_not_staff_is_refused(api, settings):
    settings.AI_METRICS_TOKEN = "scrape-me-0123456789"
    response = await api.get(METRICS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


async def test_no_token_configured_means_staff_only(anon, staff, settings):
    settings.AI_METRICS_TOKEN = None
    assert (await anon.get(METRICS, headers={"authorization": "Bearer None"})).status_code == 401
    assert (await staff.get(METRICS)).status_code == 200


async def test_openmetrics_when_asked(staff):
    response = await staff.get(
        METRICS, headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")


async def test_disabled_metrics_count_nothing_and_answer_404(
    api, staff, scripted_provider, settings
):
    before = await scrape(staff)
    settings.AI_METRICS_ENABLED = False
    assert (await api.post(CHAT, {"prompt": "hi", **SCRIPTED})).status_code == 200
    assert (await staff.get(METRICS)).status_code == 404
    settings.AI_METRICS_ENABLED = True
    after = await scrape(staff)
    ok = {"surface": "chat", **SCRIPTED, "route": "default", "outcome": "ok", "error_code": ""}
    assert delta(before, after, "ai_gateway_requests_total", **ok) == 0


def test_the_app_keeps_off_the_default_registry():
    from prometheus_client import REGISTRY as DEFAULT

    assert metrics.REGISTRY is not DEFAULT
    assert not [m.name for m in DEFAULT.collect() if m.name.startswith("ai_gateway")]


def test_a_model_past_the_series_cap_is_counted_as_other(monkeypatch):
    from ai.services.gateway import Outcome

    monkeypatch.setattr(metrics, "MAX_SERIES", len(metrics._series))
    outcome = Outcome(
        request_id="r",
        endpoint="chat",
        user_id=None,
        complexity="",
        started=0.0,
        provider="scripted",
        model="never-seen-model-xyz",
        error_code="model_not_found",
    )
    labels = dict(
        zip(
            ("surface", "provider", "model", "route", "outcome", "error_code"),
            ("chat", "scripted", "other", "default", "error", "model_not_found"),
            strict=True,
        )
    )

    def count() -> float:
        return metrics.REGISTRY.get_sample_value("ai_gateway_requests_total", labels) or 0.0

    before = count()
    metrics.request_finished(outcome, 0.01)
    assert count() == before + 1
    assert not [key for key in metrics._series if "never-seen-model-xyz" in key]


@pytest.fixture
def fresh_limits():
    from ai import governance
    from tests.governance.conftest import _clear_redis

    governance.reset()
    _clear_redis()
    yield
    governance.reset()
    _clear_redis()


async def test_rate_limit_and_budget_refusals(
    api, staff, scripted_provider, settings, fresh_limits
):
    from ai.models import ModelPrice

    await ModelPrice.objects.acreate(
        provider="scripted", model="scripted-1", input_per_mtok=1, output_per_mtok=2
    )
    before = await scrape(staff)
    settings.AI_DEFAULT_RPM = 1
    assert (await api.post(CHAT, {"prompt": "one", **SCRIPTED})).status_code == 200
    assert (await api.post(CHAT, {"prompt": "two", **SCRIPTED})).status_code == 429
    settings.AI_DEFAULT_RPM = None
    settings.AI_DEFAULT_DAILY_BUDGET_USD = 0.000001
    assert (await api.post(CHAT, {"prompt": "three", **SCRIPTED})).status_code == 402
    settings.AI_DEFAULT_DAILY_BUDGET_USD = None
    after = await scrape(staff)

    refusals = "ai_gateway_refusals_total"
    rate = {"reason": "rate_limit", "limit": "requests", "scope": "user"}
    assert delta(before, after, refusals, **rate) == 1
    assert delta(before, after, refusals, reason="budget", limit="daily", scope="user") == 1
    refused = {"surface": "chat", **SCRIPTED, "route": "default", "outcome": "error"}
    total = "ai_gateway_requests_total"
    assert delta(before, after, total, **refused, error_code="rate_limit_exceeded") == 1
    assert delta(before, after, total, **refused, error_code="budget_exceeded") == 1


async def test_a_fallback_is_counted_for_the_target_left(scripted_provider, settings):
    from ai.exceptions import UpstreamUnavailableError
    from ai.services.router import LLMRouter
    from ai.services.routes import ModelRoute

    settings.AI_FALLBACKS_ENABLED = True
    targets = [ModelRoute("scripted", "scripted-a"), ModelRoute("scripted", "scripted-b")]

    async def call(provider, route):
        raise UpstreamUnavailableError(provider="scripted", model=route.model)

    def count(model: str) -> float:
        labels = {"provider": "scripted", "model": model, "error_code": "upstream_unavailable"}
        return metrics.REGISTRY.get_sample_value("ai_gateway_upstream_fallbacks_total", labels) or 0

    before = count("scripted-a"), count("scripted-b")
    with pytest.raises(UpstreamUnavailableError):
        await LLMRouter().run(targets, call)
    # Left for scripted-b; scripted-b, the last, is no fallback.
    assert (count("scripted-a"), count("scripted-b")) == (before[0] + 1, before[1])


async def test_gateway_keys_of_staff_and_of_others(anon, user, transactional_db):
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model

    from ai.models import ApiKey

    boss = await get_user_model().objects.acreate_user("boss", password="pw-boss-1", is_staff=True)
    _, staff_key = await sync_to_async(ApiKey.issue)(boss, "scraper")
    _, user_key = await sync_to_async(ApiKey.issue)(user, "mine")
    allowed = await anon.get(METRICS, headers={"authorization": f"Bearer {staff_key}"})
    assert allowed.status_code == 200
    refused = await anon.get(METRICS, headers={"authorization": f"Bearer {user_key}"})
    assert refused.status_code == 403
