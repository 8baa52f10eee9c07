"""Two gateway processes on one Redis and one database share provider cooldowns and the
response cache (rate limits: tests/governance/test_processes.py). Each process is a real
uvicorn in a fresh interpreter whose providers point at the fake upstream through the vendors'
environment variables. Run when REDIS_URL and DATABASE_URL are set (CI's second pass)."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from django.core.cache import caches

from tests.api.conftest import OPENAI_CHAT, ROUTED, STATUS
from tests.fresh import gateway_process, needs_shared_services

pytestmark = [pytest.mark.django_db(transaction=True), needs_shared_services]


@pytest.fixture
def servers(fake_upstream, transactional_db):
    caches["default"].clear()  # no cooldown or cached answer left by another test
    env = {
        "OPENAI_API_KEY": "sk-test-openai",
        "ANTHROPIC_API_KEY": "sk-ant-test-anthropic",
        "GOOGLE_API_KEY": "AIza-test-google",
        "OPENAI_BASE_URL": fake_upstream.openai_base_url,
        "ANTHROPIC_BASE_URL": fake_upstream.anthropic_base_url,
        "GOOGLE_GEMINI_BASE_URL": fake_upstream.gemini_base_url,
    }
    settings_module = "tests.services.shared_settings"
    with (
        gateway_process(settings_module, **env) as one,
        gateway_process(settings_module, **env) as two,
    ):
        yield one, two
    caches["default"].clear()


@pytest.fixture
async def client(servers, token):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for url in servers:
            await _ready(http, url)
        yield http


async def _ready(client: httpx2.AsyncClient, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if (await client.get(url + STATUS)).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway at {url} did not start")
        await asyncio.sleep(0.1)


async def test_a_cooldown_in_one_process_is_seen_by_the_other(servers, client):
    one, two = servers
    # In process one, the simple route's first target fails once (503), the next answers.
    first = await client.post(
        one + ROUTED,
        json={"prompt": "hi [[fake:status=503 fail_times=1 id=shared-cd]]", "complexity": "simple"},
    )
    assert first.status_code == 200, first.text
    failed = first.headers["x-ai-route"].split("; ")[1]
    assert failed.endswith("=upstream_unavailable"), first.headers["x-ai-route"]
    target = failed.split("=")[0]
    # Process two skips that target without calling it.
    second = await client.post(two + ROUTED, json={"prompt": "hello", "complexity": "simple"})
    assert second.status_code == 200, second.text
    assert f"{target}=cooldown" in second.headers["x-ai-route"], second.headers["x-ai-route"]


async def test_an_answer_cached_by_one_process_is_a_hit_in_the_other(servers, client):
    one, two = servers
    body = {
        "model": "gpt-4o-mini",
        "temperature": 0,
        "messages": [{"role": "user", "content": "what is shared?"}],
    }
    first = await client.post(one + OPENAI_CHAT, json=body)
    second = await client.post(two + OPENAI_CHAT, json=body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["x-ai-cache"], second.headers["x-ai-cache"]) == ("miss", "hit")
    answer = first.json()["choices"][0]["message"]["content"]
    assert second.json()["choices"][0]["message"]["content"] == answer
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
