"""The ledger row of a routed request with ``complexity: "auto"`` holds the class the
classifier chose, not "auto" (offline provider, the real writer)."""

from __future__ import annotations

import pytest
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import AccessToken

from ai.api.authentication import clear_auth_caches
from ai.models import UsageRecord
from ai.services.router import clear_router_cache
from ai.usage import flush_usage

pytestmark = pytest.mark.django_db(transaction=True)

ROUTED = "/api/v1/app/ai/chat/routed"


@pytest.fixture(autouse=True)
def _fresh():
    clear_auth_caches()
    clear_router_cache()
    yield
    clear_auth_caches()


@pytest.mark.parametrize("stream", [False, True])
async def test_the_row_has_the_classified_complexity(alice, aledger, stream):
    body = {"prompt": "Derive Euler's formula rigorously.", "complexity": "auto", "stream": stream}
    headers = {"authorization": f"Bearer {AccessToken.for_user(alice)}"}
    response = await AsyncClient().post(
        ROUTED, body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200
    if stream:
        _ = [chunk async for chunk in response.streaming_content]
    await flush_usage()
    [row] = [r async for r in UsageRecord.objects.all()]
    assert row.request_id == response.headers["X-Request-ID"]
    assert (row.endpoint, row.complexity, row.status) == ("chat_routed", "complex", "ok")
    assert row.streamed is stream
