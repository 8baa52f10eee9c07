"""Through the HTTP API into the real ledger (the background writer, the database): each row
names the key the request came with, refused requests included, and JWT rows name none."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from ai.models import UsageRecord
from ai.usage import flush_usage
from tests.api.conftest import CHAT
from tests.keys.conftest import KeyClient
from tests.usage.conftest import aledger, ledger  # noqa: F401  (the real ledger, drained)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def usage_events():
    """Not the API tests' recorder: these requests go to the real ledger."""


async def test_rows_name_their_key(aledger, api, user, make_key):  # noqa: F811
    key, full_key = await sync_to_async(make_key)()
    narrow, narrow_full = await sync_to_async(make_key)(allowed_models=["gpt-4o"])
    with_key = await KeyClient(full_key, "x-api-key").post(CHAT, {"prompt": "hi"})
    refused = await KeyClient(narrow_full).post(CHAT, {"prompt": "hi"})
    with_jwt = await api.post(CHAT, {"prompt": "hi"})
    assert (with_key.status_code, refused.status_code, with_jwt.status_code) == (200, 403, 200)
    await flush_usage()
    rows = {
        r.request_id: (r.user_id, r.api_key_id, r.status, r.error_code)
        async for r in UsageRecord.objects.all()
    }
    assert rows == {
        with_key["X-Request-ID"]: (user.pk, key.pk, "ok", ""),
        refused["X-Request-ID"]: (user.pk, narrow.pk, "error", "model_not_allowed"),
        with_jwt["X-Request-ID"]: (user.pk, None, "ok", ""),
    }
    listed = (await api.get(f"/api/v1/app/ai/usage?key={narrow.prefix}")).json()
    assert [r["request_id"] for r in listed["records"]["results"]] == [refused["X-Request-ID"]]
    assert listed["totals"]["errors"] == 1
