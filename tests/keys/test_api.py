"""``/api/v1/app/ai/keys``: a user lists, creates and revokes their own keys; staff see all;
nobody sees another user's; the full key is in the create answer only."""

from __future__ import annotations

import hashlib

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from ai.models import ApiKey
from tests.api.conftest import STATUS, ApiClient
from tests.keys.conftest import KeyClient

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = "/api/v1/app/ai/keys"


async def _other(username: str, **fields) -> tuple[object, ApiClient]:
    user = await get_user_model().objects.acreate_user(username, **fields)
    return user, ApiClient(str(AccessToken.for_user(user)))


async def test_create_returns_the_key_once_and_it_works(api, user):
    response = await api.post(
        KEYS,
        {
            "name": "ci",
            "models": ["gpt-4o-mini", " simple ", "gpt-4o-mini"],
            "rpm": 60,
            "tpm": 10000,
            "daily_budget_usd": 2.5,
            "monthly_budget_usd": 20,
            "expires_in": 3600,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    full_key = body.pop("key")
    assert full_key.startswith(body["prefix"] + "_") and len(body["prefix"]) == 12
    assert body["owner"] == {"id": user.pk, "username": "alice"}
    assert body["state"] == "active" and body["expires_at"] and body["revoked_at"] is None
    assert body["allowed_models"] == ["gpt-4o-mini", "simple"]
    assert (body["rpm"], body["tpm"]) == (60, 10000)
    assert (body["daily_budget_usd"], body["monthly_budget_usd"]) == ("2.5", "20")

    stored = await ApiKey.objects.aget(prefix=body["prefix"])
    assert stored.secret_hash == hashlib.sha256(full_key.encode()).hexdigest()
    assert (await KeyClient(full_key).get(STATUS)).status_code == 200

    listed = (await api.get(KEYS)).json()["keys"]
    assert [k["prefix"] for k in listed] == [body["prefix"]]
    assert full_key not in (await api.get(KEYS)).content.decode()
    assert "key" not in listed[0] and "secret_hash" not in listed[0]
    detail = await api.get(f"{KEYS}/{body['prefix']}")
    assert detail.status_code == 200 and full_key not in detail.content.decode()


async def test_users_see_and_revoke_only_their_own_keys(api, user, make_key):
    mine, _ = await sync_to_async(make_key)(name="mine")
    bob, bob_api = await _other("bob")
    theirs, bob_key = await sync_to_async(make_key)(name="bob's", owner=bob)

    assert [k["prefix"] for k in (await api.get(KEYS)).json()["keys"]] == [mine.prefix]
    assert [k["prefix"] for k in (await bob_api.get(KEYS)).json()["keys"]] == [theirs.prefix]
    assert (await api.get(f"{KEYS}?user={bob.pk}")).status_code == 403
    for response in (
        await api.get(f"{KEYS}/{theirs.prefix}"),
        await api.client.delete(
            f"{KEYS}/{theirs.prefix}", headers={"authorization": f"Bearer {api.token}"}
        ),
        await api.post(f"{KEYS}/{theirs.prefix}/revoke"),
    ):
        assert response.status_code == 404  # as if it did not exist
        assert theirs.prefix in response.json()["error"]["message"]
    await theirs.arefresh_from_db()
    assert theirs.revoked_at is None
    assert (await KeyClient(bob_key).get(STATUS)).status_code == 200


async def test_staff_see_everyone_s_keys(user, make_key):
    mine, _ = await sync_to_async(make_key)(name="alice's")
    root, root_api = await _other("root", is_staff=True)
    ours, _ = await sync_to_async(make_key)(name="root's", owner=root)
    everyone = {k["prefix"] for k in (await root_api.get(KEYS)).json()["keys"]}
    assert everyone == {mine.prefix, ours.prefix}
    only = (await root_api.get(f"{KEYS}?user={user.pk}")).json()["keys"]
    assert [k["prefix"] for k in only] == [mine.prefix]
    assert (await root_api.get(f"{KEYS}/{mine.prefix}")).status_code == 200
    created = await root_api.post(KEYS, {"name": "for alice", "user": user.pk})
    assert created.json()["owner"]["id"] == user.pk


@pytest.mark.parametrize("how", ["delete", "post"])
async def test_revoke_refuses_the_key_on_its_next_request(api, make_key, how):
    key, full_key = await sync_to_async(make_key)()
    client = KeyClient(full_key)
    assert (await client.get(STATUS)).status_code == 200
    if how == "delete":
        response = await api.client.delete(
            f"{KEYS}/{key.prefix}", headers={"authorization": f"Bearer {api.token}"}
        )
    else:
        response = await api.post(f"{KEYS}/{key.prefix}/revoke")
    assert response.status_code == 200
    assert response.json()["state"] == "revoked" and response.json()["revoked_at"]
    refused = await client.get(STATUS)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


async def test_a_key_lists_and_revokes_but_cannot_create_keys(make_key):
    key, full_key = await sync_to_async(make_key)(allowed_models=["gpt-4o-mini"])
    client = KeyClient(full_key, "x-api-key")
    assert [k["prefix"] for k in (await client.get(KEYS)).json()["keys"]] == [key.prefix]
    response = await client.post(KEYS, {"name": "escape"})
    assert response.status_code == 403
    assert "cannot create keys" in response.json()["error"]["message"]
    assert await ApiKey.objects.acount() == 1
    assert (await client.delete(f"{KEYS}/{key.prefix}")).status_code == 200
    assert (await client.get(KEYS)).status_code == 401  # it revoked itself


async def test_a_non_staff_user_cannot_create_for_another(api):
    bob, _ = await _other("bob")
    response = await api.post(KEYS, {"name": "x", "user": bob.pk})
    assert response.status_code == 403
    assert await ApiKey.objects.acount() == 0


async def test_every_bad_field_is_named(api):
    response = await api.post(
        KEYS,
        {
            "name": " ",
            "models": ["gpt 4o", 3],
            "rpm": 0,
            "tpm": "10",
            "daily_budget_usd": -1,
            "monthly_budget_usd": "lots",
            "expires_in": 0,
            "colour": "red",
        },
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {
        "name",
        "models[0]",
        "models[1]",
        "rpm",
        "tpm",
        "daily_budget_usd",
        "monthly_budget_usd",
        "expires_in",
        "colour",
    }, fields
    assert (await api.post(KEYS, {})).json()["error"]["fields"] == {
        "name": ["This field is required."]
    }
    assert await ApiKey.objects.acount() == 0


async def test_anonymous_is_refused(anon):
    assert (await anon.get(KEYS)).status_code == 401
