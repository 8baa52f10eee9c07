"""The routing table in the database: read by the router, cached, invalidated on save."""

from __future__ import annotations

import importlib

import pytest
from asgiref.sync import sync_to_async
from django.apps import apps
from django.db import connection

from ai.models import RouteTarget
from ai.providers.base import ModelComplexity
from ai.routing import db_route_source, default_route_rows, effective_routes
from ai.services.router import LLMRouter
from ai.services.routes import FALLBACK_ROUTES, MODEL_ROUTES, ModelRoute

pytestmark = pytest.mark.django_db(transaction=True)

SIMPLE = ModelComplexity.SIMPLE


def _defaults(complexity: ModelComplexity) -> list[ModelRoute]:
    return [MODEL_ROUTES[complexity], *FALLBACK_ROUTES[complexity]]


def _names(routes) -> list[tuple[str, str]]:
    return [(r.provider, r.model) for r in routes]


async def test_empty_table_uses_the_code_defaults(aledger):
    assert _names(await LLMRouter().targets(SIMPLE)) == _names(_defaults(SIMPLE))


async def test_the_router_reads_the_table_in_position_order(aledger):
    create = sync_to_async(RouteTarget.objects.create)
    await create(complexity="simple", position=2, provider="gemini", model="gemini-2.5-pro")
    await create(complexity="simple", position=1, provider="anthropic", model="claude-haiku-4-5")
    await create(complexity="simple", position=0, provider="openai", model="gpt-x",
                 enabled=False)  # fmt: skip
    assert _names(await LLMRouter().targets(SIMPLE)) == [
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-2.5-pro"),
    ]
    assert _names(await LLMRouter().plan(SIMPLE)) == _names(await LLMRouter().targets(SIMPLE))
    # Other complexities have no rows: their defaults apply.
    moderate = ModelComplexity.MODERATE
    assert _names(await LLMRouter().targets(moderate)) == _names(_defaults(moderate))


async def test_a_saved_change_applies_at_once(aledger, settings):
    settings.AI_ROUTES_CACHE_SECONDS = 3600
    target = await sync_to_async(RouteTarget.objects.create)(
        complexity="simple", position=0, provider="openai", model="gpt-old"
    )
    assert _names(await db_route_source(SIMPLE)) == [("openai", "gpt-old")]
    target.model = "gpt-new"
    await target.asave()  # post_save invalidates the cache; no restart, no TTL wait
    assert _names(await db_route_source(SIMPLE)) == [("openai", "gpt-new")]
    target.enabled = False
    await target.asave()
    assert _names(await db_route_source(SIMPLE)) == _names(_defaults(SIMPLE))
    await target.adelete()
    assert _names(await db_route_source(SIMPLE)) == _names(_defaults(SIMPLE))


async def test_unsignalled_changes_are_seen_after_the_ttl(aledger, settings):
    settings.AI_ROUTES_CACHE_SECONDS = 3600
    await sync_to_async(RouteTarget.objects.create)(
        complexity="simple", position=0, provider="openai", model="gpt-a"
    )
    assert _names(await db_route_source(SIMPLE)) == [("openai", "gpt-a")]
    await RouteTarget.objects.filter(complexity="simple").aupdate(model="gpt-b")  # no signal
    assert _names(await db_route_source(SIMPLE)) == [("openai", "gpt-a")]  # cached
    settings.AI_ROUTES_CACHE_SECONDS = 0
    assert _names(await db_route_source(SIMPLE)) == [("openai", "gpt-b")]


async def test_an_unreadable_table_falls_back_to_the_defaults(aledger, monkeypatch, caplog):
    async def broken():
        raise RuntimeError("relation ai_routetarget does not exist")

    db_route_source.invalidate()
    monkeypatch.setattr(db_route_source, "_load", broken)
    assert _names(await db_route_source(SIMPLE)) == _names(_defaults(SIMPLE))
    assert "routing table unavailable" in caplog.text


def test_the_seed_migration_copies_the_code_defaults(ledger):
    seed = importlib.import_module("ai.migrations.0002_seed_routes_and_prices").seed

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    seed(apps, editor)
    rows = list(
        RouteTarget.objects.order_by("complexity", "position").values(
            "complexity", "position", "provider", "model", "enabled"
        )
    )
    expected = sorted(
        ({k: r[k] for k in rows[0]} for r in default_route_rows()),
        key=lambda r: (r["complexity"], r["position"]),
    )
    assert rows == expected
    assert all(
        _names(targets) == _names(_defaults(c)) and from_table
        for c, targets, from_table in effective_routes()
    )
    seed(apps, editor)  # a second run changes nothing
    assert RouteTarget.objects.count() == len(expected)
