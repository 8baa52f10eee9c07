"""Gateway API keys on the gateway's endpoints: the three headers, JWT beside them, refusal of
revoked / expired / deleted keys and inactive owners on the next request (in every process:
see the module docstring of tests/api/test_revocation.py for how another process is simulated),
the last-use time, and the key on every usage event."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import openai
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from ai.api import key_auth, revocation
from ai.api.revocation import arevoke_user
from ai.models import ApiKey
from tests.api.conftest import COMPLETIONS, STATUS, ApiClient
from tests.api.live import LiveGateway
from tests.fresh import run_python
from tests.keys.conftest import HEADERS, KeyClient

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "hello"}]


def _cached(full_key: str) -> bool:
    return key_auth._keys.get(hashlib.sha256(full_key.encode()).hexdigest()) is not None


async def _code(client) -> str | None:
    response = await client.get(STATUS)
    if response.status_code == 200:
        return None
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    return response.json()["error"]["code"]


@pytest.mark.parametrize("how", list(HEADERS))
async def test_each_header_authenticates_and_the_usage_names_the_key(
    how, user, make_key, usage_events
):
    key, full_key = await _issue(make_key)
    client = KeyClient(full_key, how)
    assert await _code(client) is None
    response = await client.post(COMPLETIONS, {"messages": MESSAGES})
    assert response.status_code == 200, response.content
    [event] = usage_events
    assert (event.user_id, event.api_key_id) == (user.pk, key.pk)


async def test_jwt_keeps_working_and_records_no_key(api, usage_events):
    response = await api.post(COMPLETIONS, {"messages": MESSAGES})
    assert response.status_code == 200
    [event] = usage_events
    assert event.api_key_id is None and event.user_id is not None


async def test_a_jwt_request_after_a_key_request_has_no_key(api, make_key, usage_events):
    _, full_key = await _issue(make_key)
    assert (await KeyClient(full_key).post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    assert (await api.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    assert [e.api_key_id is None for e in usage_events] == [False, True]


@pytest.mark.parametrize("how", list(HEADERS))
async def test_a_wrong_key_is_invalid_api_key(how, make_key):
    _, full_key = await _issue(make_key)
    wrong = full_key[:-1] + ("A" if full_key[-1] != "A" else "B")  # same shape and prefix
    assert await _code(KeyClient(wrong, how)) == "invalid_api_key"
    assert await _code(KeyClient("aig_short", how)) == "invalid_api_key"


async def test_a_bearer_value_that_is_not_a_key_is_left_to_jwt(transactional_db):
    assert await _code(ApiClient("not-a-jwt")) == "token_not_valid"


async def test_revocation_elsewhere_refuses_the_next_request(make_key):
    key, full_key = await _issue(make_key)
    client = KeyClient(full_key)
    assert await _code(client) is None
    assert _cached(full_key)
    # Another process revokes: the row changes and its receiver writes the owner's marker to
    # the shared cache; nothing reaches this process's memory.
    await ApiKey.objects.filter(pk=key.pk).aupdate(revoked_at=timezone.now())
    await arevoke_user(key.owner_id)
    assert _cached(full_key)  # the entry here is still there, stale...
    assert await _code(client) == "invalid_api_key"  # ... and the marker refused it anyway


async def test_the_process_cache_is_real_until_the_marker_changes(make_key):
    """``update()`` sends no signal: a row changed without a new marker is not seen (which is
    what makes the cache worth having); ``save()`` writes the marker."""
    key, full_key = await _issue(make_key)
    client = KeyClient(full_key)
    assert await _code(client) is None
    await ApiKey.objects.filter(pk=key.pk).aupdate(revoked_at=timezone.now())
    assert await _code(client) is None
    key.revoked_at = timezone.now()
    await key.asave(update_fields=["revoked_at"])
    response = await client.get(STATUS)
    assert response.status_code == 401
    assert key.prefix in response.json()["error"]["message"]
    assert full_key not in response.content.decode()


async def test_an_evicted_marker_means_a_fresh_lookup(make_key):
    key, full_key = await _issue(make_key)
    client = KeyClient(full_key)
    assert await _code(client) is None
    await ApiKey.objects.filter(pk=key.pk).aupdate(revoked_at=timezone.now())
    backend, _ = revocation._configured()
    backend.delete(revocation.key(key.owner_id))
    assert await _code(client) == "invalid_api_key"


async def test_a_deleted_key_is_refused(make_key):
    key, full_key = await _issue(make_key)
    client = KeyClient(full_key)
    assert await _code(client) is None
    await key.adelete()
    assert await _code(client) == "invalid_api_key"


async def test_an_inactive_owner_is_refused(user, make_key):
    _, full_key = await _issue(make_key)
    client = KeyClient(full_key, "x-api-key")
    assert await _code(client) is None
    user.is_active = False
    await user.asave()  # the user's marker (ai.api.revocation), not the key's
    assert await _code(client) == "invalid_api_key"


async def test_a_key_given_to_another_user_acts_as_the_new_owner(user, make_key, usage_events):
    key, full_key = await _issue(make_key)
    client = KeyClient(full_key)
    assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    bob = await get_user_model().objects.acreate_user("bob")
    key.owner = bob
    await key.asave()  # writes the old owner's marker too: the entry here is theirs
    assert (await client.post(COMPLETIONS, {"messages": MESSAGES})).status_code == 200
    assert [e.user_id for e in usage_events] == [user.pk, bob.pk]


async def test_expiry_is_checked_on_every_request(make_key, monkeypatch):
    key, full_key = await _issue(make_key, expires_at=timezone.now() + timedelta(hours=1))
    client = KeyClient(full_key)
    assert await _code(client) is None
    assert _cached(full_key)
    later = timezone.now() + timedelta(hours=2)

    class Clock:
        @staticmethod
        def now():
            return later

    monkeypatch.setattr(key_auth, "timezone", Clock)  # no write anywhere: only time passes
    response = await client.get(STATUS)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_api_key",
        "message": f"API key {key.prefix} has expired.",
        "request_id": response["X-Request-ID"],
    }


async def test_an_expiry_moved_earlier_refuses_the_next_request(make_key):
    key, full_key = await _issue(make_key, expires_at=timezone.now() + timedelta(days=1))
    client = KeyClient(full_key)
    assert await _code(client) is None
    key.expires_at = timezone.now() - timedelta(seconds=1)
    await key.asave()
    assert await _code(client) == "invalid_api_key"


async def test_last_used_is_written_in_the_background_at_most_once_a_minute(make_key):
    key, full_key = await _issue(make_key)
    assert key.last_used_at is None
    client = KeyClient(full_key)
    before = timezone.now()
    assert await _code(client) is None
    await key_auth.flush_last_used()
    await key.arefresh_from_db()
    assert key.last_used_at is not None and key.last_used_at >= before
    await ApiKey.objects.filter(pk=key.pk).aupdate(last_used_at=None)
    assert await _code(client) is None  # within the minute: no write
    await key_auth.flush_last_used()
    await key.arefresh_from_db()
    assert key.last_used_at is None


async def test_the_request_gets_the_owner_as_its_user(user, make_key):
    staff = await get_user_model().objects.acreate_user("root", is_staff=True)
    _, full_key = await _issue(make_key, owner=staff)
    response = await KeyClient(full_key).get("/api/v1/app/ai/usage?user=all")
    assert response.status_code == 200  # staff-only query: the key acts as its owner
    _, alice_key = await _issue(make_key)
    response = await KeyClient(alice_key).get("/api/v1/app/ai/usage?user=all")
    assert response.status_code == 403


def test_any_process_with_the_app_installed_publishes_key_changes():
    """The receivers are connected where the model is defined: a process that never imported
    the API (a shell, a worker) still writes the key's marker when it saves a key."""
    code = (
        "import sys, django; django.setup();"
        "print('ai.api.key_auth' in sys.modules);"
        "from django.db.models.signals import post_save, post_delete;"
        "from ai.models import ApiKey, _api_key_changed;"
        "print(post_save.disconnect(_api_key_changed, sender=ApiKey,"
        " dispatch_uid='ai.ApiKey.changed'));"
        "print(post_delete.disconnect(_api_key_changed, sender=ApiKey,"
        " dispatch_uid='ai.ApiKey.deleted'))"
    )
    assert run_python(code).split() == ["False", "True", "True"]


async def test_the_official_openai_sdk_uses_a_key(upstream_settings, make_key, transactional_db):
    upstream_settings.AI_MAX_RETRIES = 0
    key, full_key = await _issue(make_key)
    server = LiveGateway().start()
    try:
        client = openai.AsyncOpenAI(
            api_key=full_key, base_url=f"{server.url}/api/v1/openai", max_retries=0, timeout=10
        )
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert reply.choices[0].message.content
        await ApiKey.objects.filter(pk=key.pk).aupdate(revoked_at=timezone.now())
        await arevoke_user(key.owner_id)
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert caught.value.code == "invalid_api_key"
    finally:
        server.stop()


async def _issue(make_key, **fields):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_key)(**fields)


def test_a_taken_prefix_is_drawn_again(user, make_key, monkeypatch):
    from ai import keys

    taken, _ = make_key()
    draws = iter([(f"{taken.prefix}_{'x' * 40}", taken.prefix), keys.generate_key()])
    monkeypatch.setattr(keys, "generate_key", lambda: next(draws))
    key, full_key = make_key()
    assert key.prefix != taken.prefix and full_key.startswith(key.prefix)


def test_the_sync_path_for_a_host_s_sync_views(user, make_key):
    from django.test import RequestFactory
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request

    key, full_key = make_key()
    auth = key_auth.ApiKeyAuthentication()
    factory = RequestFactory()
    owner, info = auth.authenticate(Request(factory.get("/", HTTP_X_API_KEY=full_key)))
    assert (owner.pk, info.pk) == (user.pk, key.pk)
    assert auth.authenticate(Request(factory.get("/"))) is None
    key.revoked_at = timezone.now()
    key.save()
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(Request(factory.get("/", HTTP_X_API_KEY=full_key)))
