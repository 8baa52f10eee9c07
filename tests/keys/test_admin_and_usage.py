"""API keys in the admin (the key shown once, on the page after saving; revocation) and in the
ledger (each row names its key; the usage API and the admin filter by key)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from ai.models import ApiKey, UsageRecord
from ai.providers.base import Usage
from ai.usage.recorder import write_events
from tests.api.conftest import ApiClient
from tests.usage.conftest import event

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/ai/apikey/add/"
CHANGELIST = "/admin/ai/apikey/"


@pytest.fixture
def staff_client(transactional_db) -> Client:
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin-1")
    client = Client()
    client.force_login(admin)
    return client


def test_admin_shows_a_new_key_once_and_stores_only_its_hash(staff_client, user):
    response = staff_client.post(
        ADD,
        {
            "owner": user.pk,
            "name": "from the admin",
            "allowed_models": "gpt-4o-mini, anthropic/*",
            "rpm": "30",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 200, response.content[:2000]
    key = ApiKey.objects.get()
    page = response.content.decode()
    start = page.index(f'value="{key.prefix}_') + len('value="')
    full_key = page[start : page.index('"', start)]
    assert key.secret_hash == hashlib.sha256(full_key.encode()).hexdigest()
    assert "shown this once" in page
    assert "no-store" in response["Cache-Control"]  # kept by neither the browser nor a proxy
    assert key.allowed_models == ["gpt-4o-mini", "anthropic/*"] and key.rpm == 30
    assert full_key not in repr(ApiKey.objects.values().get())

    # Never again: not on the list, not on the key's page, not in a message for the next page.
    for url in (CHANGELIST, f"/admin/ai/apikey/{key.pk}/change/", "/admin/"):
        later = staff_client.get(url)
        assert later.status_code == 200
        assert full_key not in later.content.decode()
        assert key.prefix in later.content.decode() or url == "/admin/"


def test_admin_revoke_action_refuses_the_key(staff_client, make_key):
    key, _ = make_key()
    response = staff_client.post(
        CHANGELIST, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 1 key(s)." in response.content.decode()
    key.refresh_from_db()
    assert key.state == "revoked"


def test_admin_refuses_a_model_entry_with_spaces(staff_client, user):
    response = staff_client.post(
        ADD, {"owner": user.pk, "name": "x", "allowed_models": "gpt 4o", "expires_at_0": ""}
    )
    assert response.status_code == 200
    assert "no spaces" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_each_ledger_row_names_its_key_and_a_deleted_key_leaves_the_row(user, make_key):
    key, _ = make_key()
    write_events([event("with-key", user_id=user.pk, api_key_id=key.pk), event("jwt")])
    rows = dict(UsageRecord.objects.values_list("request_id", "api_key_id"))
    assert rows == {"with-key": key.pk, "jwt": None}
    key.delete()
    assert UsageRecord.objects.get(request_id="with-key").api_key_id is None


@pytest.fixture
def ledger(user, make_key):
    ci, _ = make_key(name="ci")
    laptop, _ = make_key(name="laptop")
    now = timezone.now()
    write_events(
        [
            event("ci-1", user_id=user.pk, api_key_id=ci.pk, usage=Usage.of(100, 10)),
            event("ci-2", user_id=user.pk, api_key_id=ci.pk, usage=Usage.of(200, 20),
                  created_at=now - timedelta(days=2)),
            event("laptop-1", user_id=user.pk, api_key_id=laptop.pk, usage=Usage.of(1, 1)),
            event("jwt-1", user_id=user.pk, usage=Usage.of(5, 5)),
        ]
    )  # fmt: skip
    return {"ci": ci, "laptop": laptop}


async def test_the_usage_api_filters_by_key(api, ledger):
    ci = ledger["ci"]
    body = (await api.get(f"/api/v1/app/ai/usage?key={ci.prefix}")).json()
    assert body["api_key"] == {"prefix": ci.prefix, "name": "ci"}
    records = body["records"]["results"]
    assert {r["request_id"] for r in records} == {"ci-1", "ci-2"}
    assert {r["api_key"] for r in records} == {ci.prefix}
    assert body["totals"]["requests"] == 2 and body["totals"]["prompt_tokens"] == 300
    assert sum(d["requests"] for d in body["by_day"]) == 2
    everything = (await api.get("/api/v1/app/ai/usage")).json()
    assert everything["totals"]["requests"] == 4 and everything["api_key"] is None
    by_id = {r["request_id"]: r["api_key"] for r in everything["records"]["results"]}
    assert by_id["jwt-1"] is None and by_id["laptop-1"] == ledger["laptop"].prefix


async def test_the_usage_api_hides_another_user_s_key(ledger):
    bob = await get_user_model().objects.acreate_user("bob")
    from rest_framework_simplejwt.tokens import AccessToken

    bob_api = ApiClient(str(AccessToken.for_user(bob)))
    response = await bob_api.get(f"/api/v1/app/ai/usage?key={ledger['ci'].prefix}")
    assert response.status_code == 404
    assert "ci-1" not in response.content.decode()


def test_the_admin_ledger_filters_by_key(staff_client, ledger):
    ci = ledger["ci"]
    page = staff_client.get(f"/admin/ai/usagerecord/?api_key={ci.pk}").content.decode()
    assert "ci-1" in page and "ci-2" in page and "laptop-1" not in page and "jwt-1" not in page
    page = staff_client.get("/admin/ai/usagerecord/?api_key=none").content.decode()
    assert "jwt-1" in page and "ci-1" not in page
