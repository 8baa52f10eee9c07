"""Fixtures for the HTTP API tests: a user with a token, an async client that sends it, the
usage events the views record, and the scripted test provider."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import AsyncClient

import ai.usage
from ai.api.authentication import clear_auth_caches
from ai.services import factory
from ai.services.router import clear_router_cache
from ai.usage.events import UsageEvent
from tests.api import scripted

STATUS = "/api/v1/app/ai/status"
COMPLETIONS = "/api/v1/app/ai/completions"
CHAT = "/api/v1/app/ai/chat"
ROUTED = "/api/v1/app/ai/chat/routed"
OPENAI_CHAT = "/api/v1/openai/chat/completions"


class ApiClient:
    """Django's AsyncClient with a bearer token on every request (the constructor's
    ``headers=`` does not reach ASGI requests in Django 5.2, so it is added per call)."""

    def __init__(self, token: str | None) -> None:
        self.client = AsyncClient()
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return {**out, **(headers or {})}

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return await self.client.get(path, headers=self._headers(headers))

    async def post(
        self,
        path: str,
        data: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        return await self.client.post(
            path, data, content_type=content_type, headers=self._headers(headers)
        )


@pytest.fixture(autouse=True)
def _fresh_state():
    clear_auth_caches()
    factory.clear_llm_cache()
    clear_router_cache()
    scripted.CLOSED.clear()
    yield
    clear_auth_caches()
    factory.clear_llm_cache()
    clear_router_cache()


@pytest.fixture(autouse=True)
def usage_events(monkeypatch) -> list[UsageEvent]:
    """Every UsageEvent the API hands to the ledger, in order. Autouse: API tests never start
    the real ledger's background writer."""
    events: list[UsageEvent] = []
    monkeypatch.setattr(ai.usage, "record_usage", events.append)
    return events


@pytest.fixture
def scripted_provider(monkeypatch, settings):
    """Register the scripted provider as "scripted" (configured through a fake OPENAI_API_KEY,
    the key setting it borrows) with retries off, so failures surface at once."""
    monkeypatch.setitem(factory.PROVIDER_CLASSES, "scripted", "tests.api.scripted.ScriptedProvider")
    monkeypatch.setitem(factory.API_KEY_SETTINGS, "scripted", "OPENAI_API_KEY")
    settings.OPENAI_API_KEY = "sk-test-scripted"
    settings.AI_MAX_RETRIES = 0
    factory.clear_llm_cache()
    yield scripted
    factory.clear_llm_cache()
