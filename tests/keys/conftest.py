"""Fixtures for the API key tests: keys made the way the admin and the command make them, and a
client that sends one in any of the three headers."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from django.test import AsyncClient

from ai.api import key_auth
from tests.api.conftest import (  # noqa: F401  (the API tests' fixtures, shared)
    _fresh_state,
    scripted_provider,
    usage_events,
)

HEADERS = {
    "bearer": lambda key: {"authorization": f"Bearer {key}"},
    "x-api-key": lambda key: {"x-api-key": key},
    "x-goog-api-key": lambda key: {"x-goog-api-key": key},
}


class KeyClient:
    """Django's AsyncClient sending ``key`` in the header ``how`` names (see HEADERS)."""

    def __init__(self, key: str, how: str = "bearer") -> None:
        self.client = AsyncClient()
        self.key = key
        self.how = how

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**HEADERS[self.how](self.key), **(extra or {})}

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return await self.client.get(path, headers=self._headers(headers))

    async def post(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return await self.client.post(
            path, data, content_type="application/json", headers=self._headers(headers)
        )

    async def delete(self, path: str) -> Any:
        return await self.client.delete(path, headers=self._headers())


@pytest.fixture(autouse=True)
def _fresh_keys():
    key_auth.clear_key_cache()
    yield
    key_auth.clear_key_cache()
    # The async ORM calls in test bodies (asave, acount...) run in asgiref's one shared thread
    # and leave its connection open: on PostgreSQL the test database then cannot be dropped.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def make_key(user):
    """``make_key(**fields) -> (ApiKey, full key)``, owned by ``user`` unless ``owner=`` says."""
    from ai.models import ApiKey

    def make(name: str = "test key", owner: Any = None, **fields: Any) -> tuple[Any, str]:
        return ApiKey.issue(owner or user, name, **fields)

    return make
