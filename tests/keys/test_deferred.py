"""Deferred confirmation of the revocation marker (``ai.deferred``): on the gateway's upstream
endpoints a cached user or key is trusted until the admission script (or a plain read, where no
script runs) checks its marker, and a changed marker refuses or re-serves the request before
anything leaves the gateway. Without REDIS_URL nothing is deferred and the same cases hold on
the plain path; under CI's REDIS_URL they run on the deferred one, and the round-trip test
counts the commands Redis ran.
"""

from __future__ import annotations

import os

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone

from ai.api import key_auth
from ai.api.revocation import arevoke_user
from ai.models import ApiKey
from tests.api.conftest import COMPLETIONS, STATUS, ApiClient
from tests.keys.conftest import KeyClient

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "hello"}]
#: A key with limits makes the admission script run (the marker checked inside it); without,
#: the marker is read on its own before the upstream call.
LIMITS = {"with limits": {"rpm": 1000, "daily_budget_usd": 100}, "no limits": {}}


async def _key(make_key, **fields):
    return await sync_to_async(make_key)(**fields)


async def _revoke_elsewhere(key) -> None:
    # As another process would: the row changes and only the shared cache hears of it.
    await ApiKey.objects.filter(pk=key.pk).aupdate(revoked_at=timezone.now())
    await arevoke_user(key.owner_id)


async def _used_then_revoked(make_key, limits: str) -> KeyClient:
    """A client whose key (with ``LIMITS[limits]``) served a chat request, so this process has
    it cached, and was then revoked elsewhere."""
    key, full_key = await _key(make_key, **LIMITS[limits])
    client = KeyClient(full_key)
    assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    await _revoke_elsewhere(key)
    return client


@pytest.mark.parametrize("limits", list(LIMITS))
async def test_a_key_revoked_elsewhere_is_refused_on_a_chat_request(limits, make_key, usage_events):
    client = await _used_then_revoked(make_key, limits)
    response = await client.post(COMPLETIONS, {"messages": MESSAGES})
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert len(usage_events) == 1  # the refused request reached no upstream and no ledger


@pytest.mark.parametrize("limits", list(LIMITS))
async def test_a_revoked_key_gets_401_not_the_error_of_its_body(limits, make_key, usage_events):
    client = await _used_then_revoked(make_key, limits)
    response = await client.post(COMPLETIONS, {"messages": []})  # a 400 for a good key
    assert response.status_code == 401, response.content
    unknown = await client.post(COMPLETIONS, {"messages": MESSAGES, "model": "no-such-model"})
    assert unknown.status_code == 401, unknown.content
    assert len(usage_events) == 1


@pytest.mark.parametrize("limits", ["with limits", "no limits"])
async def test_a_deactivated_user_s_jwt_is_refused_on_a_chat_request(
    limits, user, settings, usage_events
):
    if limits == "with limits":
        settings.AI_DEFAULT_RPM = 1000
    api = ApiClient(_token(user))
    assert (await api.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_active=False)
    await arevoke_user(user.pk)
    response = await api.post(COMPLETIONS, {"messages": MESSAGES})
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "user_inactive"
    assert len(usage_events) == 1


async def test_changed_but_good_credentials_are_served_anew_with_what_changed(
    make_key, usage_events
):
    key, full_key = await _key(make_key, rpm=1000)
    client = KeyClient(full_key)
    first = await client.post(COMPLETIONS, {"messages": MESSAGES})
    assert first["x-ratelimit-limit-requests"] == "1000"
    key.rpm = 500  # save(): the marker changes, the key is still good
    await key.asave()
    second = await client.post(COMPLETIONS, {"messages": MESSAGES})
    assert second.status_code == 200, second.content
    assert second["x-ratelimit-limit-requests"] == "500"  # the key as it is now
    assert len(usage_events) == 2  # one row per request, none for the attempt served anew
    assert len({e.request_id for e in usage_events}) == 2

    key.allowed_models = ["some-other-model"]
    await key.asave()
    refused = await client.post(COMPLETIONS, {"messages": MESSAGES})
    assert refused.status_code == 403, refused.content


@pytest.mark.parametrize("limits", list(LIMITS))
async def test_last_use_is_recorded_only_for_a_request_let_through(limits, make_key):
    key, full_key = await _key(make_key, **LIMITS[limits])
    client = KeyClient(full_key)

    async def last_used():
        await key_auth.flush_last_used()
        return (await ApiKey.objects.aget(pk=key.pk)).last_used_at

    assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    first = await last_used()
    assert first is not None
    key_auth._last_used.clear()  # this process's once-a-minute throttle: out of the way
    assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    second = await last_used()
    assert second > first  # a request let through records its use (deferred or not)
    await _revoke_elsewhere(key)
    key_auth._last_used.clear()
    assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 401
    assert await last_used() == second  # the refused one does not


def _token(user) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")


@needs_redis
async def test_a_chat_request_with_limits_makes_one_round_trip_before_its_upstream(make_key):
    """Counted by Redis itself (``INFO commandstats``): once the key is cached, a chat request
    runs the admission script and no marker read; a status request reads the marker."""
    import redis.asyncio

    from ai.governance import admission

    admin = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])

    async def calls() -> dict[str, int]:
        stats = await admin.info("commandstats")
        return {
            name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("mget", "evalsha")
        }

    try:
        _, full_key = await _key(make_key, rpm=1000, daily_budget_usd=100)
        client = KeyClient(full_key)
        assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
        await admission.get_store().drain()  # the first request's settlement
        before = await calls()
        assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
        await admission.get_store().drain()
        after = await calls()
        assert after["mget"] == before["mget"]  # no marker read of its own
        assert after["evalsha"] == before["evalsha"] + 2  # admission, then settlement
        assert (await client.get(STATUS)).status_code == 200
        assert (await calls())["mget"] == before["mget"] + 1  # any other view reads it
    finally:
        await admin.aclose()
