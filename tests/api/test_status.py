"""GET /api/v1/app/ai/status: what the gateway can serve, and never a secret."""

from __future__ import annotations

import pytest

from tests.api.conftest import STATUS

pytestmark = pytest.mark.django_db(transaction=True)


async def test_offline_mode_is_said_plainly(api):
    response = await api.get(STATUS)
    assert response.status_code == 200
    body = response.json()
    assert body["available"] is True
    assert body["providers"] == ["offline"]
    assert (body["default_provider"], body["default_model"]) == ("offline", "offline-echo")
    assert body["offline"] is True and body["mode"] == "offline"
    assert "no real model" in body["notice"] or "not a real model" in body["notice"]
    assert "OPENAI_API_KEY" in body["notice"]
    assert set(body["routes"]) == {"simple", "moderate", "complex", "search"}
    assert body["routes"]["complex"][0] == {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5-20250929",
        "configured": False,
    }


async def test_live_mode_never_shows_keys_or_urls(api, settings):
    secrets = {
        "OPENAI_API_KEY": "sk-proj-SECRET-openai-123456",
        "ANTHROPIC_API_KEY": "sk-ant-SECRET-anthropic",
        "GOOGLE_API_KEY": "AIzaSECRET-google-123456",
    }
    for name, value in secrets.items():
        setattr(settings, name, value)
    settings.OPENAI_BASE_URL = "https://user:url-password-SECRET@proxy.example/v1"
    settings.AI_DEFAULT_PROVIDER = "openai"
    settings.AI_DEFAULT_MODEL = "gpt-4o"
    settings.AI_OFFLINE_ENABLED = False

    response = await api.get(STATUS)
    body = response.json()
    assert body["providers"] == ["openai", "anthropic", "gemini"]
    assert body["offline"] is False and body["mode"] == "live" and body["notice"] is None
    assert body["routes"]["simple"][0]["configured"] is True
    raw = response.content.decode()
    for value in [*secrets.values(), "url-password", "proxy.example", "SECRET"]:
        assert value not in raw


async def test_offline_default_with_real_providers_is_flagged(api, settings):
    settings.OPENAI_API_KEY = "sk-test"
    body = (await api.get(STATUS)).json()
    assert body["providers"] == ["openai", "offline"]
    assert body["offline"] is True
    assert "default provider" in body["notice"]


async def test_nothing_configured(api, settings):
    settings.AI_OFFLINE_ENABLED = False
    body = (await api.get(STATUS)).json()
    assert body["available"] is False
    assert body["providers"] == []
