"""Authentication: JWT bearer tokens on every AI endpoint, and the token endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from ai.api.authentication import TTLCache
from tests.api.conftest import CHAT, COMPLETIONS, ROUTED, STATUS, ApiClient

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = [
    ("get", STATUS, None),
    ("post", COMPLETIONS, {"messages": [{"role": "user", "content": "hi"}]}),
    ("post", CHAT, {"prompt": "hi"}),
    ("post", ROUTED, {"prompt": "hi"}),
]


async def _call(client: ApiClient, method: str, path: str, body: dict | None):
    return await (client.get(path) if method == "get" else client.post(path, body))


def _error(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_no_token_is_401_with_bearer_challenge(anon, usage_events, method, path, body):
    response = await _call(anon, method, path, body)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    error = _error(response)
    assert error["code"] == "not_authenticated"
    assert error["request_id"] == response["X-Request-ID"]
    assert usage_events == []  # nothing reached routing


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_garbage_token_is_401(method, path, body):
    response = await _call(ApiClient("not.a.jwt"), method, path, body)
    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"


async def test_token_signed_with_another_key_is_401(user):
    token = AccessToken.for_user(user)
    forged = str(token)[:-4] + ("AAAA" if not str(token).endswith("AAAA") else "BBBB")
    response = await ApiClient(forged).get(STATUS)
    assert response.status_code == 401


async def test_expired_token_is_401(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = await ApiClient(str(token)).get(STATUS)
    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"


async def test_refresh_token_is_not_an_access_token(user):
    response = await ApiClient(str(RefreshToken.for_user(user))).get(STATUS)
    assert response.status_code == 401


async def test_malformed_authorization_header_is_401(anon):
    response = await anon.get(STATUS, headers={"authorization": "Bearer a b"})
    assert response.status_code == 401
    assert _error(response)["code"] == "bad_authorization_header"


async def test_inactive_user_is_401(user, token, api):
    assert (await api.get(STATUS)).status_code == 200  # now cached
    user.is_active = False
    await user.asave()  # a new revocation marker: every process looks it up again
    response = await api.get(STATUS)
    assert response.status_code == 401
    assert _error(response)["code"] == "user_inactive"


async def test_deleted_user_is_401(user, api):
    await user.adelete()
    response = await api.get(STATUS)
    assert response.status_code == 401
    assert _error(response)["code"] == "user_not_found"


async def test_user_is_looked_up_once_then_cached(api, monkeypatch):
    calls = []
    original = QuerySet.get

    def counting_get(self, *args, **kwargs):
        if self.model is get_user_model():
            calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "get", counting_get)
    for _ in range(3):
        assert (await api.get(STATUS)).status_code == 200
    assert len(calls) == 1


def test_ttl_cache_expires_and_stays_bounded(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("ai.api.authentication.time.monotonic", lambda: now[0])
    cache = TTLCache(max_size=3)
    cache.set("a", 1, ttl=30)
    assert cache.get("a") == 1
    now[0] += 31
    assert cache.get("a") is None
    for key in "bcde":
        cache.set(key, key, ttl=30)
    assert len(cache) <= 3
    assert cache.get("e") == "e"
    cache.set("x", 1, ttl=0)  # an already-expired token is never cached
    assert cache.get("x") is None


async def test_obtain_and_refresh_token_then_use_it(user, anon):
    response = await anon.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "alice-password-1"}
    )
    assert response.status_code == 200
    pair = response.json()
    assert (await ApiClient(pair["access"]).get(STATUS)).status_code == 200

    response = await anon.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert response.status_code == 200
    assert (await ApiClient(response.json()["access"]).get(STATUS)).status_code == 200


async def test_obtain_token_with_a_wrong_password_is_401(user, anon):
    response = await anon.post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 401


async def test_token_for_a_user_id_of_the_wrong_type_is_401(transactional_db):
    token = AccessToken()
    token["user_id"] = "not-a-number"
    response = await ApiClient(str(token)).get(STATUS)
    assert response.status_code == 401
    assert await get_user_model().objects.acount() == 0


@pytest.mark.parametrize("header", ["x-api-key", "x-goog-api-key"])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_a_jwt_in_the_sdk_key_headers_authenticates(token, header, method, path, body):
    """Where the Anthropic and Google SDKs send their api_key."""
    client = ApiClient(None)
    headers = {header: token}
    response = await (
        client.get(path, headers=headers)
        if method == "get"
        else client.post(path, body, headers=headers)
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("header", ["x-api-key", "x-goog-api-key"])
async def test_garbage_in_the_sdk_key_headers_is_401(header, anon):
    response = await ApiClient(None).get(STATUS, headers={header: "not-a-token"})
    assert response.status_code == 401
    assert _error(response)["code"] == "token_not_valid"
