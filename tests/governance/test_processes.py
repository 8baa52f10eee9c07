"""Two gateway processes sharing one Redis and one database enforce a single limit. Run when
REDIS_URL and DATABASE_URL are set (CI's second pass): each process is a real uvicorn serving
the tests' project, with a default limit of 10 requests a minute."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from tests.api.conftest import CHAT, STATUS
from tests.fresh import gateway_process, needs_shared_services

pytestmark = [pytest.mark.django_db(transaction=True), needs_shared_services]


@pytest.fixture
def servers(transactional_db):
    settings_module = "tests.governance.server_settings"
    with gateway_process(settings_module) as one, gateway_process(settings_module) as two:
        yield [one, two]


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


async def test_two_processes_enforce_one_rpm_limit(servers, token):
    async with httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for url in servers:
            await _ready(client, url)
        responses = await asyncio.gather(
            *(
                client.post(servers[i % 2] + CHAT, json={"prompt": f"request {i}"})
                for i in range(20)
            )
        )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 10, statuses
    # Counted per process, each would have answered its 10.
    refused = [r for r in responses if r.status_code == 429]
    assert {r.headers["x-ratelimit-limit-requests"] for r in refused} == {"10"}
    assert all(r.json()["error"]["code"] == "rate_limit_exceeded" for r in refused)
