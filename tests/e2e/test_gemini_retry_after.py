"""A Gemini 429 tells the gateway's client when to retry: Google puts the delay in the error body
(``google.rpc.RetryInfo.retryDelay``), never in a ``Retry-After`` header, and the gateway's own
429 carries it as ``Retry-After``. On both transports, streamed and not."""

from __future__ import annotations

import pytest

from ai.services import factory
from tests.api.conftest import COMPLETIONS
from tests.e2e.conftest import MODELS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("transport", ["httpx2", "aiohttp"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_gemini_429_carries_retry_after(api, upstream_settings, transport, stream):
    upstream_settings.AI_HTTP_TRANSPORT = transport
    factory.clear_llm_cache()
    response = await api.post(
        COMPLETIONS,
        {
            "provider": "gemini",
            "model": MODELS["gemini"],
            "messages": [{"role": "user", "content": "[[fake:status=429 retry_delay=30]]"}],
            "stream": stream,
        },
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
