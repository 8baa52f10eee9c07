"""Shared fixtures: the fake upstream, and settings that point each provider at it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from tests.fake_upstream import FakeUpstream


@pytest.fixture(scope="session")
def fake_upstream_server():
    server = FakeUpstream().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def fake_upstream(fake_upstream_server):
    """The running fake upstream, with captured requests and failure counters cleared."""
    fake_upstream_server.reset()
    return fake_upstream_server


@pytest.fixture
def upstream_settings(fake_upstream, settings):
    """All three real providers configured against the fake upstream (keys are fakes)."""
    from ai.services import clear_llm_cache

    settings.OPENAI_API_KEY = "sk-test-openai"
    settings.ANTHROPIC_API_KEY = "sk-ant-test-anthropic"
    settings.GOOGLE_API_KEY = "AIza-test-google"
    settings.OPENAI_BASE_URL = fake_upstream.openai_base_url
    settings.ANTHROPIC_BASE_URL = fake_upstream.anthropic_base_url
    settings.GOOGLE_GEMINI_BASE_URL = fake_upstream.gemini_base_url
    settings.AI_REQUEST_TIMEOUT = 5.0
    clear_llm_cache()
    yield settings
    clear_llm_cache()


# -- a user and clients for the HTTP API -----------------------------------------------------


@pytest.fixture
def user(transactional_db):
    return get_user_model().objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def token(user) -> str:
    return str(AccessToken.for_user(user))


@pytest.fixture
def api(token):
    from tests.api.conftest import ApiClient

    return ApiClient(token)


@pytest.fixture
def anon():
    from tests.api.conftest import ApiClient

    return ApiClient(None)
