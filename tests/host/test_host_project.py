"""Issue 9 / 13: the app installed in a host project, served by the README's ASGI entry point
under a real server. The host's middleware marks the gateway's responses, its ORM-using
``request_started`` receiver runs off the event loop, its own view under ``/api/v1/auth/``
answers, and ``ai.urls`` included under a sub-path gets the fast path."""

from __future__ import annotations

import pytest
from django.core import checks

from tests.api.sse_client import parse_sse, split_stream
from tests.host.app import HOST_HEADER

pytestmark = pytest.mark.django_db(transaction=True)

SECURITY = "django.middleware.security.SecurityMiddleware"
HOST_MIDDLEWARE = "tests.host.app.HostHeaderMiddleware"
STATUS = "api/v1/app/ai/status"
CHAT = "api/v1/app/ai/chat"
OPENAI = "api/v1/openai/chat/completions"
WHOAMI = "/api/v1/auth/whoami/"


async def _every_endpoint(http, prefix: str = "/") -> list:
    """One request to each kind of gateway endpoint; returns the responses."""
    responses = [
        await http.get(prefix + STATUS),
        await http.post(prefix + CHAT, json={"prompt": "hello host"}),
        await http.post(
            prefix + OPENAI,
            json={"model": "offline-echo", "messages": [{"role": "user", "content": "hi"}]},
        ),
    ]
    async with http.stream(
        "POST", prefix + CHAT, json={"prompt": "stream to the host", "stream": True}
    ) as stream:
        body = await stream.aread()
    deltas, _done, finished, error = split_stream(parse_sse(body))
    assert finished and error is None and deltas
    responses.append(stream)
    return responses


def _assert_host_middleware_ran(responses) -> None:
    for response in responses:
        assert response.status_code == 200, response.request.url
        assert response.headers[HOST_HEADER] == "yes", response.request.url
        # SecurityMiddleware's headers.
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def _assert_receiver_ran_off_the_loop(audit, requests: int) -> None:
    assert len(audit) >= requests
    assert not any(in_loop for in_loop, _ in audit), "the ORM receiver ran in the event loop"
    assert all(users == 1 for _, users in audit)


async def test_default_mode_every_gateway_response_through_host_middleware(serve, http_for, audit):
    http = http_for(serve(None))
    responses = await _every_endpoint(http)
    _assert_host_middleware_ran(responses)
    _assert_receiver_ran_off_the_loop(audit, len(responses))


async def test_host_view_under_api_v1_auth(serve, http_for):
    for api_middleware in (None, [SECURITY]):
        http = http_for(serve(api_middleware))
        response = await http.get(WHOAMI)
        assert response.status_code == 200, response.text
        assert response.json()["user"] is None  # AuthenticationMiddleware ran: anonymous
        assert response.headers[HOST_HEADER] == "yes"


async def test_fast_mode_with_the_host_middleware_listed(serve, http_for, audit):
    http = http_for(serve([SECURITY, HOST_MIDDLEWARE]))
    responses = await _every_endpoint(http) + await _every_endpoint(http, "/llm/")
    _assert_host_middleware_ran(responses)
    _assert_receiver_ran_off_the_loop(audit, len(responses))


async def test_fast_mode_serves_the_app_views_wherever_included(serve, http_for, audit):
    """Only SecurityMiddleware listed: the app's views, at the root and under /llm/, go
    through the lean handler (no host header); the host's own view does not."""
    http = http_for(serve([SECURITY]))
    for prefix in ("/", "/llm/"):
        for response in await _every_endpoint(http, prefix):
            assert response.status_code == 200
            assert HOST_HEADER not in response.headers, response.request.url
            assert response.headers["x-content-type-options"] == "nosniff"
    assert (await http.get(WHOAMI)).headers[HOST_HEADER] == "yes"
    missing = await http.get("/llm/api/v1/app/ai/nope")
    assert missing.status_code == 404 and missing.headers[HOST_HEADER] == "yes"
    _assert_receiver_ran_off_the_loop(audit, 9)


def _warnings(**ids) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in checks.run_checks():
        found.setdefault(message.id, []).append(message.msg)
    return found


def test_check_names_the_middleware_the_fast_path_skips(host_settings):
    host_settings.AI_API_MIDDLEWARE = [SECURITY]
    skipped = _warnings().get("ai.W010", [])
    assert len(skipped) == 2
    assert any(m.startswith(HOST_MIDDLEWARE) for m in skipped)
    assert any(m.startswith("django.middleware.common.CommonMiddleware") for m in skipped)

    host_settings.AI_API_MIDDLEWARE = [
        SECURITY,
        HOST_MIDDLEWARE,
        "django.middleware.common.CommonMiddleware",
    ]
    assert "ai.W010" not in _warnings()
    host_settings.AI_API_MIDDLEWARE = None
    assert "ai.W010" not in _warnings()


async def test_schema_and_docs_without_default_schema_class(serve, http_for):
    """The README's install steps leave DEFAULT_SCHEMA_CLASS unset: the app's schema view
    still answers, with the gateway's paths wherever ai.urls is included."""
    http = http_for(serve(None))
    schema = await http.get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200, schema.text[:500]
    paths = schema.json()["paths"]
    assert "/api/v1/app/ai/chat" in paths and "/llm/api/v1/app/ai/chat" in paths
    assert WHOAMI not in paths

    docs = await http.get("/api/docs/")
    assert docs.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
