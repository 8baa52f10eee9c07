"""Keys under a WSGI server too (the views run on one background event loop per process, see
``ai.api.wsgi``): each request has its own key context, so a JWT request after a key request on
that loop records no key, and a model outside the key's list is refused there as well."""

from __future__ import annotations

import httpx2
import pytest
from asgiref.sync import sync_to_async

from tests.api.conftest import CHAT
from tests.api.test_wsgi import wsgi_url  # noqa: F401  (the WSGI server fixture)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_keys_under_wsgi(wsgi_url, token, user, make_key, usage_events):  # noqa: F811
    open_key, open_full = await sync_to_async(make_key)()
    _, narrow_full = await sync_to_async(make_key)(allowed_models=["gpt-4o"])
    async with httpx2.AsyncClient(base_url=wsgi_url, timeout=10) as client:
        ok = await client.post(CHAT, json={"prompt": "hi"}, headers={"x-goog-api-key": open_full})
        jwt = await client.post(
            CHAT, json={"prompt": "hi"}, headers={"Authorization": f"Bearer {token}"}
        )
        refused = await client.post(CHAT, json={"prompt": "hi"}, headers={"x-api-key": narrow_full})
    assert (ok.status_code, jwt.status_code, refused.status_code) == (200, 200, 403)
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert [(e.user_id, e.api_key_id) for e in usage_events[:2]] == [
        (user.pk, open_key.pk),
        (user.pk, None),
    ]
