"""Health endpoints for load balancers and orchestrators. No authentication; no secrets shown.

* ``GET /api/v1/app/ai/health/live``: the process answers. No I/O: ``{"status": "ok"}``.
* ``GET /api/v1/app/ai/health/ready``: the database the usage ledger writes to answers a trivial
  query, and the caches the app uses (``AI_AUTH_CACHE``, ``AI_LIMITS_CACHE``) store and return
  a value, each within ``AI_HEALTH_TIMEOUT`` seconds; 200 when both do, else 503 naming the
  check that failed (by its exception class, never its message, which may name hosts and
  users). Each provider is listed as configured or not, from the settings alone: no provider is
  called.

A check still running when the next probe comes is awaited again rather than started twice, so
a database that hangs costs one worker thread, not one per probe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.db import connections, router
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from ai.api.base import AsyncAPIView, json_response
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import extend_schema
from ai.conf import ai_settings
from ai.db import run_db
from ai.services.factory import is_configured, provider_names

logger = logging.getLogger("ai.api")

OK, FAILED = "ok", "error"
_KEY = f"ai:health:{socket.gethostname()}:{os.getpid()}"

#: check name -> (its loop, the check in progress)
_running: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
#: cache alias -> one backend per process (``caches[alias]`` is one per async context: a new
#: client, and for Redis a new connection pool, per probe).
_backends: dict[str, BaseCache] = {}
#: The checks that failed at the last probe (their failures are logged once, not per probe).
_failing: set[str] = set()


def _database_alias() -> str:
    from ai.models import UsageRecord

    return router.db_for_write(UsageRecord)


def _ping_database(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _database() -> None:
    await run_db(_ping_database, _database_alias())


def _cache_aliases() -> list[str]:
    return list(dict.fromkeys((ai_settings.AI_AUTH_CACHE, ai_settings.AI_LIMITS_CACHE)))


def _backend(alias: str) -> BaseCache:
    backend = _backends.get(alias)
    if backend is None:
        backend = _backends[alias] = caches.create_connection(alias)
    return backend


def _round_trip(backend: BaseCache) -> None:
    # One key per process (one check at a time runs in it), left to expire: two round trips.
    value = secrets.token_hex(8)
    backend.set(_KEY, value, timeout=10)
    if backend.get(_KEY) != value:
        raise LookupError("the cache did not return the value just stored")


async def _cache() -> None:
    for alias in _cache_aliases():
        backend = _backend(alias)
        if isinstance(backend, DummyCache):
            continue  # stores nothing by design
        if isinstance(backend, LocMemCache):
            _round_trip(backend)  # this process's memory: no I/O
        else:
            await run_db(_round_trip, backend)  # a blocking client: a pool thread


def _forget(**_: Any) -> None:
    _backends.clear()


setting_changed.connect(_forget, dispatch_uid="ai.api.health.settings_changed")


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """``check``'s result as ``{"status", "ms"}`` (and ``"error"``), within the timeout."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    entry = _running.get(name)
    if entry is None or entry[0] is not loop or entry[1].done():
        entry = _running[name] = (loop, asyncio.ensure_future(check()))
    try:
        await asyncio.wait_for(asyncio.shield(entry[1]), float(ai_settings.AI_HEALTH_TIMEOUT))
    except TimeoutError:
        result = {"status": FAILED, "error": "timeout"}
    except Exception as exc:
        result = {"status": FAILED, "error": type(exc).__name__}
    else:
        result = {"status": OK}
    result["ms"] = round((time.perf_counter() - started) * 1000, 2)
    if result["status"] == OK:
        _failing.discard(name)
    elif name not in _failing:
        _failing.add(name)
        logger.warning("readiness check %s failed: %s", name, result["error"])
    return result


def providers() -> dict[str, str]:
    """Each known provider: "configured" or "not_configured" (from the settings only)."""
    return {
        name: "configured" if is_configured(name) else "not_configured" for name in provider_names()
    }


class _HealthView(AsyncAPIView):
    authentication_classes: ClassVar[list] = []
    permission_classes: ClassVar[list] = [AllowAny]
    renderer_classes: ClassVar[list] = [ORJSONRenderer]


class LiveView(_HealthView):
    @extend_schema(
        operation_id="ai_health_live",
        summary="Liveness",
        description="The process answers. No authentication, no I/O.",
        tags=["ai"],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT)},
        examples=[OpenApiExample("Alive", value={"status": "ok"}, response_only=True)],
    )
    async def get(self, request: Request) -> HttpResponseBase:
        return json_response({"status": OK})


class ReadyView(_HealthView):
    @extend_schema(
        operation_id="ai_health_ready",
        summary="Readiness",
        description="The database and the caches the gateway uses answer (each within "
        "AI_HEALTH_TIMEOUT seconds), and which providers are configured (never called). "
        "No authentication; no secrets, hosts or error messages shown.",
        tags=["ai"],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Ready."),
            503: OpenApiResponse(
                OpenApiTypes.OBJECT, description="A check failed (`checks` says which)."
            ),
        },
        examples=[
            OpenApiExample(
                "Database down",
                value={
                    "status": "unavailable",
                    "checks": {
                        "database": {"status": "error", "error": "OperationalError", "ms": 0.9},
                        "cache": {"status": "ok", "ms": 0.05},
                    },
                    "providers": {"openai": "configured", "anthropic": "not_configured"},
                },
                response_only=True,
                status_codes=["503"],
            )
        ],
    )
    async def get(self, request: Request) -> HttpResponseBase:
        database, cache = await asyncio.gather(_run("database", _database), _run("cache", _cache))
        ready = database["status"] == OK and cache["status"] == OK
        body = {
            "status": OK if ready else "unavailable",
            "checks": {"database": database, "cache": cache},
            "providers": providers(),
        }
        return json_response(body, status=200 if ready else 503)
