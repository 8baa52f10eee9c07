"""The routing table in the database (:class:`ai.models.RouteTarget`), as the router's source.

The router asks :data:`db_route_source` for a complexity's targets on every routed request. The
whole table is read at most once per ``AI_ROUTES_CACHE_SECONDS`` per process (one query with the
async ORM) and re-read right after a target is saved or deleted in this process, so an admin
edit takes effect without a restart (other processes within the TTL). A complexity with no
enabled target, an empty table, or a database that cannot be read falls back to the code
defaults (``MODEL_ROUTES`` + ``FALLBACK_ROUTES``): routing never fails because of this table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ai.conf import ai_settings
from ai.db import run_db
from ai.providers._loop import PerLoop
from ai.providers.base import ModelComplexity
from ai.services.routes import (
    FALLBACK_ROUTES,
    MODEL_ROUTES,
    ModelRoute,
    default_route_targets,
)

logger = logging.getLogger("ai.router")


def default_route_rows() -> list[dict[str, Any]]:
    """The code defaults as table rows (what the data migration seeds)."""
    rows = []
    for complexity in ModelComplexity:
        targets = (MODEL_ROUTES[complexity], *FALLBACK_ROUTES.get(complexity, ()))
        for position, route in enumerate(targets):
            rows.append(
                {
                    "complexity": complexity.value,
                    "position": position,
                    "provider": route.provider,
                    "model": route.model,
                    "enabled": True,
                    "cost_per_1k_tokens": route.cost_per_1k_tokens,
                }
            )
    return rows


class DatabaseRouteSource:
    """An async route source reading :class:`RouteTarget`, cached per process."""

    def __init__(self) -> None:
        self._routes: dict[str, tuple[ModelRoute, ...]] | None = None
        self._loaded_at = 0.0
        self._generation = 0
        self._loaded_generation = -1
        self._locks: PerLoop[asyncio.Lock] = PerLoop(asyncio.Lock)

    def invalidate(self, **_: Any) -> None:
        """Forget the cached table (a target changed). Also a signal receiver."""
        self._generation += 1

    def _fresh(self) -> dict[str, tuple[ModelRoute, ...]] | None:
        ttl = float(ai_settings.AI_ROUTES_CACHE_SECONDS)
        if (
            self._routes is not None
            and self._loaded_generation == self._generation
            and time.monotonic() - self._loaded_at < ttl
        ):
            return self._routes
        return None

    async def table(self) -> dict[str, tuple[ModelRoute, ...]]:
        """Enabled targets by complexity value, in order (empty when none or unreadable)."""
        routes = self._fresh()
        if routes is not None:
            return routes
        async with self._locks.get():
            routes = self._fresh()
            if routes is not None:
                return routes
            generation = self._generation
            try:
                routes = await self._load()
            except Exception as err:
                # Keep routing on the defaults; retried after the TTL.
                logger.warning(
                    "routing table unavailable, using the default routes (%s: %s)",
                    type(err).__name__, err,
                )  # fmt: skip
                routes = {}
            self._routes, self._loaded_at = routes, time.monotonic()
            self._loaded_generation = generation
            return routes

    @staticmethod
    async def _load() -> dict[str, tuple[ModelRoute, ...]]:
        from ai.models import RouteTarget

        table: dict[str, list[ModelRoute]] = {}
        rows = RouteTarget.objects.filter(enabled=True).order_by("complexity", "position", "id")
        fields = ("complexity", "provider", "model", "cost_per_1k_tokens")
        for complexity, provider, model, cost in await run_db(
            lambda: list(rows.values_list(*fields))
        ):
            table.setdefault(complexity, []).append(ModelRoute(provider, model, Decimal(cost or 0)))
        return {key: tuple(value) for key, value in table.items()}

    async def __call__(self, complexity: ModelComplexity) -> Sequence[ModelRoute]:
        complexity = ModelComplexity(complexity)
        targets = (await self.table()).get(complexity.value)
        if targets:
            return targets
        return await default_route_targets(complexity)


db_route_source = DatabaseRouteSource()


def effective_routes() -> list[tuple[ModelComplexity, tuple[ModelRoute, ...], bool]]:
    """Each complexity's targets as the router sees them now, read from the database (not the
    cache), and whether they come from the table or the code defaults. For the admin."""
    from ai.models import RouteTarget

    table: dict[str, list[ModelRoute]] = {}
    rows = RouteTarget.objects.filter(enabled=True).order_by("complexity", "position", "id")
    for complexity, provider, model, cost in rows.values_list(
        "complexity", "provider", "model", "cost_per_1k_tokens"
    ):
        table.setdefault(complexity, []).append(ModelRoute(provider, model, Decimal(cost or 0)))
    result = []
    for complexity in ModelComplexity:
        targets = table.get(complexity.value)
        if targets:
            result.append((complexity, tuple(targets), True))
        else:
            defaults = (MODEL_ROUTES[complexity], *FALLBACK_ROUTES.get(complexity, ()))
            result.append((complexity, defaults, False))
    return result


def invalidate_routes(**_: Any) -> None:
    db_route_source.invalidate()


def connect_signals() -> None:
    """Re-read the table when a target is saved or deleted here, and after migrate/flush."""
    from django.db.models.signals import post_delete, post_migrate, post_save

    from ai.models import RouteTarget

    post_save.connect(invalidate_routes, sender=RouteTarget, dispatch_uid="ai.routes.save")
    post_delete.connect(invalidate_routes, sender=RouteTarget, dispatch_uid="ai.routes.delete")
    post_migrate.connect(invalidate_routes, dispatch_uid="ai.routes.migrate")
