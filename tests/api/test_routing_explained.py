"""Each response says how it was routed (``x-ai-route``), and the ledger row says the same.

A route of the scripted provider (which fails on ``[[raise:CODE]]``) then the offline model, in
the routing table; retries off, so each failing request is one failure of scripted-1.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

import ai.usage
from ai.models import RouteTarget, UsageRecord
from ai.routing import invalidate_routes
from ai.services import cooldown
from ai.usage import flush_usage
from ai.usage.ledger import record_usage
from tests.api.conftest import CHAT, OPENAI_CHAT, ROUTED

FAILS = "[[raise:upstream_unavailable]]"
FELL_BACK = "complexity=simple; scripted/scripted-1=upstream_unavailable; offline/offline-echo=ok"


@pytest.fixture
async def route(settings, scripted_provider):
    settings.AI_OFFLINE_ENABLED = True
    settings.AI_COOLDOWN_FAILURES = 3
    await RouteTarget.objects.all().adelete()  # the seeded table (migration 0002)
    await RouteTarget.objects.acreate(
        complexity="simple", position=0, provider="scripted", model="scripted-1"
    )
    await RouteTarget.objects.acreate(
        complexity="simple", position=1, provider="offline", model="offline-echo"
    )
    invalidate_routes()
    cooldown.board.reset()
    yield
    invalidate_routes()
    cooldown.board.reset()
    await sync_to_async(connections.close_all)()


async def test_a_fallback_is_explained_in_the_header_and_the_event(api, route, usage_events):
    response = await api.post(ROUTED, {"prompt": FAILS, "complexity": "simple"})
    assert response.status_code == 200, response.content
    assert response["x-ai-route"] == FELL_BACK
    [event] = usage_events
    assert event.routing == FELL_BACK


async def test_a_stream_has_the_header_before_its_first_byte(api, route, usage_events):
    response = await api.post(ROUTED, {"prompt": FAILS, "complexity": "simple", "stream": True})
    assert response.status_code == 200
    assert response["x-ai-route"] == FELL_BACK
    _ = [chunk async for chunk in response.streaming_content]
    assert usage_events[-1].routing == FELL_BACK


async def test_a_target_in_cooldown_is_named(api, route, usage_events):
    for _ in range(3):
        await api.post(ROUTED, {"prompt": FAILS, "complexity": "simple"})
    response = await api.post(ROUTED, {"prompt": FAILS, "complexity": "simple"})
    assert response.status_code == 200
    skipped = "complexity=simple; scripted/scripted-1=cooldown; offline/offline-echo=ok"
    assert response["x-ai-route"] == skipped
    assert usage_events[-1].routing == skipped


async def test_auto_default_and_override_heads(api, route):
    auto = await api.post(ROUTED, {"prompt": "hi", "complexity": "auto"})
    assert auto["x-ai-route"] == "complexity=auto:simple; scripted/scripted-1=ok"
    default = await api.post(CHAT, {"prompt": "hi", "provider": "offline"})
    assert default["x-ai-route"] == "route=override; offline/offline-echo=ok"


async def test_an_error_answer_is_explained_too(api, route):
    response = await api.post(ROUTED, {"prompt": FAILS, "provider": "scripted"})
    assert response.status_code == 503
    assert response["x-ai-route"] == "route=override; scripted/scripted-1=upstream_unavailable"


@pytest.mark.parametrize("stream", [False, True])
async def test_the_openai_compatible_endpoint_says_it(api, route, stream):
    body = {
        "model": "scripted-1",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    }
    response = await api.post(OPENAI_CHAT, body)
    assert response.status_code == 200, response.content
    assert response["x-ai-route"] == "route=override; scripted/scripted-1=ok"
    if stream:
        _ = [chunk async for chunk in response.streaming_content]


async def test_the_ledger_row_keeps_it(api, route, monkeypatch):
    monkeypatch.setattr(ai.usage, "record_usage", record_usage)  # the real ledger
    response = await api.post(ROUTED, {"prompt": FAILS, "complexity": "simple"})
    assert response.status_code == 200
    await flush_usage()
    row = await UsageRecord.objects.aget(request_id=response["X-Request-ID"])
    assert row.routing == FELL_BACK


@pytest.mark.parametrize("stream", [False, True])
async def test_what_the_answering_target_left_out_is_named_last(api, route, stream, usage_events):
    # The scripted provider honours no option; the offline one honours them all.
    def ask(prompt: str, **more) -> dict:
        messages = [{"role": "user", "content": prompt}]
        return {"model": "simple", "messages": messages, "seed": 1, "stream": stream, **more}

    async def post(body: dict) -> str:
        response = await api.post(OPENAI_CHAT, body)
        assert response.status_code == 200, response.content
        if stream:
            _ = [chunk async for chunk in response.streaming_content]
        assert usage_events[-1].routing == response["x-ai-route"]
        return response["x-ai-route"]

    assert await post(ask("hi", drop_params=True)) == (
        "complexity=simple; scripted/scripted-1=ok; dropped=seed"
    )
    # Left out for the first target, which then failed: the one that answered took it all.
    assert await post(ask(FAILS, drop_params=True)) == FELL_BACK
    # Not asked to drop: the first target refuses, the next one answers.
    assert await post(ask("hi")) == (
        "complexity=simple; scripted/scripted-1=unsupported_parameter; offline/offline-echo=ok"
    )


async def test_what_a_failed_target_left_out_is_not_named(api, route, settings, usage_events):
    # scripted-1 leaves the seed out, then fails; the offline target is not configured.
    settings.AI_OFFLINE_ENABLED = False
    messages = [{"role": "user", "content": FAILS}]
    body = {"model": "simple", "messages": messages, "seed": 1, "drop_params": True}
    response = await api.post(OPENAI_CHAT, body)
    assert response.status_code == 503, response.content
    route_header = response["x-ai-route"]
    assert route_header == (
        "complexity=simple; scripted/scripted-1=upstream_unavailable; "
        "offline/offline-echo=not_configured"
    )
    assert usage_events[-1].routing == route_header
