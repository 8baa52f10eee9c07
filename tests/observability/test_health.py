"""Liveness and readiness: no auth, no secrets, and 503 naming the check that failed when the
database or the cache really fails."""

from __future__ import annotations

import socket

import pytest
from django.db import connections
from django.db.utils import load_backend

from tests.observability.conftest import LIVE, READY

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ToTheDownDatabase:
    """Routes the usage ledger's writes to the "down" alias."""

    def db_for_write(self, model, **hints):
        return "down" if model._meta.app_label == "ai" else None


@pytest.fixture
def database_down(monkeypatch, settings):
    """The ledger's writes routed to a database that cannot be reached (SQLite: a file in a
    missing directory; PostgreSQL: a closed port). Its connection is built here rather than
    added to ``DATABASES``: the test framework forbids connecting to an alias it did not set
    up, and would report that instead of the real failure."""
    from ai.api import health

    down = dict(connections.settings["default"])
    if down["ENGINE"].endswith("sqlite3"):
        down["NAME"] = "/nonexistent-directory/for-the-health-test/db.sqlite3"
    else:
        down.update(HOST="127.0.0.1", PORT=str(closed_port()))
    wrapper = load_backend(down["ENGINE"]).DatabaseWrapper(down, "down")
    monkeypatch.setattr(health, "connections", {"down": wrapper})
    settings.DATABASE_ROUTERS = [f"{__name__}.ToTheDownDatabase"]
    yield
    wrapper.close()


async def test_live_needs_nothing(anon):
    response = await anon.get(LIVE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_live_ignores_a_bad_token(anon):
    response = await anon.get(LIVE, headers={"authorization": "Bearer not-a-jwt"})
    assert response.status_code == 200


async def test_ready_when_database_and_cache_answer(anon, settings):
    settings.OPENAI_API_KEY = "sk-test-health-secret"
    settings.ANTHROPIC_API_KEY = None
    response = await anon.get(READY)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert body["providers"]["openai"] == "configured"
    assert body["providers"]["anthropic"] == "not_configured"
    assert b"sk-test-health-secret" not in response.content


async def test_ready_is_503_when_the_database_is_down(anon, database_down):
    response = await anon.get(READY)
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "status": "error",
        "error": "OperationalError",
        "ms": body["checks"]["database"]["ms"],
    }
    assert body["checks"]["cache"]["status"] == "ok"
    assert b"nonexistent" not in response.content and b"127.0.0.1" not in response.content


async def test_ready_is_503_when_the_cache_is_down(anon, settings):
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        },
    }
    settings.AI_LIMITS_CACHE = "down"
    response = await anon.get(READY)
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["cache"]["error"] == "ConnectionError"


async def test_ready_is_503_when_a_check_hangs(anon, settings, monkeypatch):
    """A check slower than AI_HEALTH_TIMEOUT fails as a timeout; the next probe awaits the same
    check instead of starting another."""
    import asyncio

    from ai.api import health

    started = []
    release = asyncio.Event()

    async def hanging() -> None:
        started.append(1)
        await release.wait()

    monkeypatch.setattr(health, "_cache", hanging)
    settings.AI_HEALTH_TIMEOUT = 0.05
    for _ in range(2):
        response = await anon.get(READY)
        assert response.status_code == 503
        assert response.json()["checks"]["cache"]["error"] == "timeout"
    assert started == [1]
    release.set()
    await asyncio.sleep(0)
