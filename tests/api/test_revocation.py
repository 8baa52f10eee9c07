"""Per-request users, and revocation on the next request across processes.

Another process is simulated honestly: the only thing a user change here reaches is Django's
cache (the receivers write the user's marker there and touch nothing in this process's memory;
each test checks that the process-local entry is still there, stale, when the next request is
refused). Under CI's REDIS_URL the cache is Redis, shared by real processes.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.core.cache import caches
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from ai.api import authentication, revocation
from ai.api.authentication import GatewayJWTAuthentication, arevoke_user, revoke_user
from tests.api.conftest import STATUS, ApiClient
from tests.fresh import needs_shared_services, run_python, shared_env

pytestmark = pytest.mark.django_db(transaction=True)


def _cached(user) -> bool:
    return authentication._users.get(str(user.pk)) is not None


async def _code(api) -> str | None:
    response = await api.get(STATUS)
    if response.status_code == 200:
        return None
    assert response.status_code == 401
    return response.json()["error"]["code"]


async def test_each_request_gets_its_own_user_object(user, token):
    auth = GatewayJWTAuthentication()
    validated = AccessToken(token)
    first, second = await asyncio.gather(auth.aget_user(validated), auth.aget_user(validated))
    third = await auth.aget_user(validated)  # from the process cache
    assert first.pk == second.pk == third.pk == user.pk
    assert len({id(first), id(second), id(third)}) == 3
    first.first_name = "changed by one request"
    first.gateway_note = "per request"
    assert third.first_name == "" and not hasattr(third, "gateway_note")
    assert (await auth.aget_user(validated)).first_name == ""


async def test_deactivation_elsewhere_refuses_the_next_request(user, api):
    assert await _code(api) is None  # user and token now cached in this process
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_active=False)
    user.is_active = False
    await user.asave()  # as another process would: its receiver writes only to the cache
    assert _cached(user)  # this process's entry is still there, stale...
    assert await _code(api) == "user_inactive"  # ... and the marker refused it anyway


async def test_password_change_refuses_the_next_request(user, monkeypatch):
    """With simplejwt's CHECK_REVOKE_TOKEN (off by default: then a new password leaves issued
    access tokens valid until they expire, as in simplejwt's own views). Set on the settings
    object simplejwt's modules imported (overriding SIMPLE_JWT rebinds a global they never see).
    """
    monkeypatch.setattr(authentication.jwt_settings, "CHECK_REVOKE_TOKEN", True)
    api = ApiClient(str(AccessToken.for_user(user)))
    assert await _code(api) is None
    user.set_password("a-new-password-2")
    await user.asave()
    assert await _code(api) == "password_changed"


async def test_deletion_refuses_the_next_request(user, api):
    assert await _code(api) is None
    await user.adelete()
    assert await _code(api) == "user_not_found"


async def test_queryset_update_needs_revoke_user(user, api):
    """``update()`` sends no signal (documented): the change is seen after revoke_user()."""
    assert await _code(api) is None
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_active=False)
    assert await _code(api) is None  # the process cache is real: no lookup per request
    await arevoke_user(user.pk)
    assert await _code(api) == "user_inactive"


async def test_an_evicted_marker_means_a_fresh_lookup(user, api):
    assert await _code(api) is None
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_active=False)
    await caches["default"].adelete(revocation.key(user.pk))  # evicted
    assert await _code(api) == "user_inactive"


async def test_a_change_inside_a_transaction_is_published_again_at_commit(user):
    def change() -> tuple[str | None, str | None]:
        with transaction.atomic():
            user.is_active = False
            user.save()
            during = revocation.read(user.pk)
        return during, revocation.read(user.pk)

    before = await revocation.aread(user.pk)
    during, after = await sync_to_async(change)()
    # A process that read `during` and then the still-uncommitted row must look again.
    assert before != during != after


async def test_a_login_does_not_revoke(user):
    before = await revocation.aread(user.pk)
    await sync_to_async(update_last_login)(None, user)
    assert await revocation.aread(user.pk) == before


async def test_a_failing_cache_means_a_database_lookup_per_request(user, api, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    settings.AI_AUTH_CACHE = "broken"
    caplog.set_level(logging.WARNING, logger="ai.auth")
    assert await _code(api) is None
    assert not _cached(user)  # nothing to validate a cached entry against
    assert "failed" in caplog.text
    await get_user_model().objects.filter(pk=user.pk).aupdate(is_active=False)
    assert await _code(api) == "user_inactive"


def test_revoke_user_changes_the_marker(user):
    first = revocation.read(user.pk)
    revoke_user(user.pk)
    assert revocation.read(user.pk) not in (None, first)


async def test_the_async_read_sees_what_django_wrote(user):
    """Under Redis the marker is read with redis-py's asyncio client: same key, same value as
    Django's cache API (the local-memory cache is read through Django's API itself)."""
    revoke_user(user.pk)
    assert await revocation.aread(user.pk) == await caches["default"].aget(revocation.key(user.pk))


async def test_concurrent_reads_each_get_their_users_marker(transactional_db):
    """Under Redis the reads asked in one turn of the loop go out as one MGET."""
    ids = list(range(1000, 1020))
    for user_id in ids[::2]:
        await arevoke_user(user_id)  # half have a marker; the others start one
    got = await asyncio.gather(*(revocation.aread(user_id) for user_id in ids))
    expected = [await caches["default"].aget(revocation.key(user_id)) for user_id in ids]
    assert got == expected
    assert None not in got and len(set(got)) == len(ids)


def test_any_process_with_the_app_installed_publishes_user_changes():
    """A `changepassword` or an admin process never imports the API: the receivers are
    connected at startup (AIConfig.ready) anyway."""
    code = (
        "import sys, django; django.setup();"
        "print('ai.api.revocation' in sys.modules);"
        "from django.contrib.auth import get_user_model;"
        "from django.db.models.signals import post_save;"
        "from ai.api.revocation import _user_changed;"
        "print(post_save.disconnect(_user_changed, sender=get_user_model()))"
    )
    assert run_python(code).split() == ["True", "True"]


@needs_shared_services
async def test_a_user_deactivated_by_another_process_is_refused_here(user, api):
    assert await _code(api) is None  # cached here
    code = (
        "import django; django.setup();"
        "from django.contrib.auth import get_user_model;"
        f"user = get_user_model().objects.get(pk={user.pk});"
        "user.is_active = False; user.save()"
    )
    await asyncio.to_thread(run_python, code, **shared_env())
    assert _cached(user)  # nothing reached this process's memory
    assert await _code(api) == "user_inactive"
