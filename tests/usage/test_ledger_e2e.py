"""Through the HTTP API with the offline provider: each request leaves exactly one ledger row,
found by the X-Request-ID the client got, with the tokens the provider reported and the cost
the client was shown. (The three real providers against the fake upstream are covered by the
end-to-end suite.)"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import AccessToken

from ai.api.authentication import clear_auth_caches
from ai.models import UsageRecord
from ai.services.router import clear_router_cache
from ai.usage import flush_usage
from tests.usage.conftest import price

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = "/api/v1/app/ai/chat"


@pytest.fixture(autouse=True)
def _fresh():
    clear_auth_caches()
    clear_router_cache()
    yield
    clear_auth_caches()


async def post(user, body: dict, **headers: str):
    headers = {"authorization": f"Bearer {AccessToken.for_user(user)}", **headers}
    return await AsyncClient().post(CHAT, body, content_type="application/json", headers=headers)


async def rows() -> list[UsageRecord]:
    await flush_usage()
    return [r async for r in UsageRecord.objects.order_by("id")]


async def test_a_plain_answer_is_one_row_with_the_shown_cost(alice, aledger):
    from asgiref.sync import sync_to_async

    await sync_to_async(price)("offline", "offline-echo", "2020-01-01", "1", "2")
    response = await post(alice, {"prompt": "hello there"})
    assert response.status_code == 200
    body = json.loads(response.content)
    [row] = await rows()
    assert row.request_id == response.headers["X-Request-ID"] == body["id"]
    assert (row.user_id, row.endpoint, row.provider, row.model) == (
        alice.pk, row.endpoint, "offline", "offline-echo",
    )  # fmt: skip
    assert (row.status, row.streamed, row.usage_source) == ("ok", False, "reported")
    usage = body["usage"]
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage["prompt_tokens"], usage["completion_tokens"],
    )  # fmt: skip
    assert row.prompt_tokens == 3 and row.completion_tokens == 5  # the offline provider's counts
    assert row.cost == Decimal(body["cost"]) == Decimal("0.000013")  # 3 x 1 + 5 x 2 per million


async def test_a_stream_is_one_row_with_cost_in_the_final_event(alice, aledger):
    response = await post(alice, {"prompt": "stream me please", "stream": True})
    assert response.status_code == 200
    text = b"".join([chunk async for chunk in response.streaming_content]).decode()
    done = next(
        json.loads(line[6:])
        for line in text.splitlines()
        if line.startswith("data: {") and '"done"' in line
    )
    [row] = await rows()
    assert row.request_id == response.headers["X-Request-ID"]
    assert (row.status, row.streamed) == ("ok", True)
    assert (row.prompt_tokens, row.completion_tokens) == (
        done["usage"]["prompt_tokens"], done["usage"]["completion_tokens"],
    )  # fmt: skip
    assert row.ttft_ms is not None
    assert row.cost is None and done["cost"] is None  # no price for offline-echo: unknown


async def test_an_error_after_routing_is_one_error_row(alice, aledger):
    response = await post(alice, {"prompt": "hi", "provider": "openai"})  # no key configured
    assert response.status_code == 400
    [row] = await rows()
    assert row.request_id == response.headers["X-Request-ID"]
    assert (row.status, row.error_code, row.provider) == (
        "error", "provider_not_configured", "openai",
    )  # fmt: skip
    assert row.total_tokens == 0 and row.cost == 0


async def test_a_client_that_disconnects_mid_stream_leaves_a_cancelled_row(alice, aledger,
                                                                          settings):  # fmt: skip
    settings.AI_OFFLINE_DELAY_MS = 400  # slow words, so the client can leave in the middle
    response = await post(alice, {"prompt": "one two three four five six seven", "stream": True})
    frames = aiter(response)  # how Django's ASGI handler consumes a streaming response
    assert await anext(frames)
    await frames.aclose()  # what the handler does when the client goes away
    [row] = await rows()
    assert row.request_id == response.headers["X-Request-ID"]
    assert (row.status, row.streamed) == ("cancelled", True)
    assert row.usage_source == "estimated"
    assert row.prompt_tokens > 0 and 0 < row.completion_tokens < 10
