"""A key revoked in one process is refused on its next request in another: real processes
sharing one PostgreSQL and one Redis. Run when REDIS_URL and DATABASE_URL are set (CI's second
pass): a uvicorn gateway in a fresh interpreter, and ``manage.py ai_keys revoke`` in another."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from asgiref.sync import sync_to_async

from ai.api import key_auth
from tests.api.conftest import STATUS
from tests.fresh import gateway_process, needs_shared_services, run_python, shared_env
from tests.keys.conftest import KeyClient

pytestmark = [pytest.mark.django_db(transaction=True), needs_shared_services]


@pytest.fixture
def other_gateway(transactional_db):
    with gateway_process() as url:
        yield url


async def _status(client: httpx2.AsyncClient, url: str, key: str) -> httpx2.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return await client.get(url + STATUS, headers={"x-api-key": key})
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_revoked_here_refused_by_another_gateway_process(other_gateway, make_key):
    key, full_key = await sync_to_async(make_key)()
    async with httpx2.AsyncClient(timeout=30) as client:
        assert (await _status(client, other_gateway, full_key)).status_code == 200
        assert (await _status(client, other_gateway, full_key)).status_code == 200  # cached
        key.revoked_at = key.created_at
        await key.asave(update_fields=["revoked_at"])
        refused = await _status(client, other_gateway, full_key)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


async def test_revoked_by_the_command_in_another_process_refused_here(make_key):
    key, full_key = await sync_to_async(make_key)()
    client = KeyClient(full_key)
    assert (await client.get(STATUS)).status_code == 200
    code = (
        "import django; django.setup();"
        "from django.core.management import call_command;"
        f"call_command('ai_keys', 'revoke', {key.prefix!r})"
    )
    out = await asyncio.to_thread(run_python, code, **shared_env())
    assert f"Revoked {key.prefix}" in out
    assert key_auth._keys.get(key.secret_hash) is not None  # still cached here, stale
    response = await client.get(STATUS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
