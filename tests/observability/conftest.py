"""Fixtures for the metrics and health tests: the API tests' clients, scripted provider and
usage capture, and a staff user."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from tests.api.conftest import (  # noqa: F401  (fixtures)
    ApiClient,
    _fresh_state,
    scripted_provider,
    usage_events,
)

METRICS = "/api/v1/app/ai/metrics"
LIVE = "/api/v1/app/ai/health/live"
READY = "/api/v1/app/ai/health/ready"


@pytest.fixture
def staff(transactional_db) -> ApiClient:
    user = get_user_model().objects.create_user("root", password="root-password-1", is_staff=True)
    return ApiClient(str(AccessToken.for_user(user)))


@pytest.fixture(autouse=True)
async def _close_connections():
    """Closes the connection Django's async ORM opened in asgiref's executor thread (left open,
    it blocks dropping the PostgreSQL test database)."""
    yield
    await sync_to_async(connections.close_all)()
