"""ai.providers._prepared: a request built by the SDK once and re-sent must be the request the
SDK's own ``client.post`` sends, and fail the way ``client.post`` fails; a client whose requests
vary per call (callable key, Azure, custom auth) must keep its per-call behaviour."""

from __future__ import annotations

import httpx2
import openai
import orjson
import pytest

from ai._compat import anthropic as anthropic_compat
from ai._compat import openai as openai_compat
from ai.providers import _prepared
from ai.providers._prepared import sdk_post
from tests.providers.conftest import closed_port_url, open_provider

CASES = {
    # provider: (SDK guard, path, options the provider passes, a minimal body)
    "openai": (
        openai_compat.PREPARED,
        "/chat/completions",
        {"security": {"bearer_auth": True}},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "anthropic": (
        anthropic_compat.PREPARED,
        "/v1/messages",
        {},
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        },
    ),
}
VARYING = {"content-length", "x-stainless-retry-count"}  # retry count: both routes send "0"


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("stream", [False, True])
async def test_same_wire_as_client_post(name, stream, upstream_settings, transport, fake_upstream):
    guard, path, options, body = CASES[name]
    body = {**body, "stream": True} if stream else body
    async with open_provider(name) as provider:
        client = provider.client
        for _ in range(2):  # the second call reuses the template
            response = await sdk_post(
                client, guard, path, orjson.dumps(body), stream=stream, options=options
            )
            await response.aread()
            await response.aclose()
        reference = await client.post(
            path, cast_to=httpx2.Response, body=body, options=options, stream=stream
        )
        await reference.aread()
        await reference.aclose()

    first, second, sdk_sent = fake_upstream.requests
    assert first.path == second.path == sdk_sent.path
    assert first.body == second.body == sdk_sent.body == body

    def headers(captured):
        return {k.lower(): v for k, v in captured.headers.items()}

    ours, theirs = headers(first), headers(sdk_sent)
    assert set(ours) == set(theirs)
    assert {k: v for k, v in ours.items() if k not in VARYING} == {
        k: v for k, v in theirs.items() if k not in VARYING
    }
    assert ours["x-stainless-retry-count"] == "0"
    assert int(ours["content-length"]) == len(orjson.dumps(body))


@pytest.mark.parametrize("name", CASES)
async def test_status_error_is_the_sdks(name, upstream_settings, transport, fake_upstream):
    guard, path, options, body = CASES[name]
    sdk = guard.sdk
    body = {**body, "messages": [{"role": "user", "content": "[[fake:status=429 retry_after=3]]"}]}
    async with open_provider(name) as provider:
        with pytest.raises(sdk.RateLimitError) as caught:
            await sdk_post(
                provider.client, guard, path, orjson.dumps(body), stream=False, options=options
            )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    assert isinstance(caught.value.body, dict)  # the error body was read, as the SDK does


@pytest.mark.parametrize("name", CASES)
async def test_stream_status_error_reads_the_body(
    name, upstream_settings, transport, fake_upstream
):
    guard, path, options, body = CASES[name]
    sdk = guard.sdk
    body = {
        **body,
        "stream": True,
        "messages": [{"role": "user", "content": "[[fake:status=503]]"}],
    }
    async with open_provider(name) as provider:
        with pytest.raises(sdk.InternalServerError) as caught:
            await sdk_post(
                provider.client, guard, path, orjson.dumps(body), stream=True, options=options
            )
    assert caught.value.status_code == 503
    assert caught.value.body


@pytest.mark.parametrize("name", CASES)
async def test_connection_refused_raises_what_client_post_raises(name, settings, transport):
    guard, path, options, body = CASES[name]
    sdk = guard.sdk
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = "test-fake-key"
    settings.OPENAI_BASE_URL = closed_port_url("/v1")
    settings.ANTHROPIC_BASE_URL = closed_port_url()
    async with open_provider(name) as provider:
        client = provider.client
        with pytest.raises(sdk.APIConnectionError) as ours:
            await sdk_post(client, guard, path, orjson.dumps(body), stream=False, options=options)
        with pytest.raises(sdk.APIConnectionError) as theirs:
            await client.post(path, cast_to=httpx2.Response, body=body, options=options)
    # (openai's aiohttp adapter reports a refused connection as a connect timeout: same class)
    assert type(ours.value) is type(theirs.value)
    assert type(ours.value.__cause__) is type(theirs.value.__cause__)


@pytest.mark.parametrize("name", CASES)
async def test_timeout_is_api_timeout_error(name, upstream_settings, transport, settings):
    guard, path, options, body = CASES[name]
    sdk = guard.sdk
    # The gateway's clients have no read timeout (its own deadlines bound reads): a client
    # with one, as an SDK user would make it.
    body = {**body, "messages": [{"role": "user", "content": "[[fake:delay=2]]"}]}
    async with open_provider(name) as provider:
        client = provider.client.with_options(timeout=0.3)
        with pytest.raises(sdk.APITimeoutError):
            await sdk_post(client, guard, path, orjson.dumps(body), stream=False, options=options)


async def test_custom_auth_client_goes_through_client_post(upstream_settings, fake_upstream):
    class Signed(httpx2.Auth):
        def auth_flow(self, request):
            request.headers["x-signed"] = "yes"
            yield request

    class SignedClient(openai.AsyncOpenAI):
        @property
        def custom_auth(self):
            return Signed()

    client = SignedClient(
        api_key="test-fake-key", base_url=fake_upstream.openai_base_url, max_retries=0
    )
    try:
        body = orjson.dumps(CASES["openai"][3])
        for _ in range(2):
            response = await sdk_post(
                client, openai_compat.PREPARED, "/chat/completions", body, stream=False
            )
            await response.aread()
        assert _prepared._templates[client] == {"/chat/completions": None}
    finally:
        await client.close()
    assert [r.headers.get("x-signed") for r in fake_upstream.requests] == ["yes", "yes"]


# -- the openai SDK's per-call auth hooks ------------------------------------------------------

OPENAI_BODY = orjson.dumps(CASES["openai"][3])


async def _post_twice(client, fake_upstream) -> list:
    for _ in range(2):
        response = await sdk_post(
            client,
            openai_compat.PREPARED,
            "/chat/completions",
            OPENAI_BODY,
            stream=False,
            options=CASES["openai"][2],
        )
        assert orjson.loads(response.content)["choices"]
    return fake_upstream.requests


def _keys(*keys: str):
    """An async callable api_key (openai 3.x refreshes it before every request)."""
    pending = list(keys)

    async def api_key() -> str:
        return pending.pop(0)

    return api_key


async def test_callable_api_key_is_called_per_request(fake_upstream):
    client = openai.AsyncOpenAI(
        api_key=_keys("sk-first", "sk-second"),
        base_url=fake_upstream.openai_base_url,
        max_retries=0,
    )
    async with client:
        sent = await _post_twice(client, fake_upstream)
    assert [r.headers["Authorization"] for r in sent] == ["Bearer sk-first", "Bearer sk-second"]
    assert _prepared._templates[client] == {"/chat/completions": None}  # the public path


async def test_callable_api_key_setting_reaches_the_wire(
    upstream_settings, transport, fake_upstream
):
    upstream_settings.OPENAI_API_KEY = _keys("sk-first", "sk-second")
    async with open_provider("openai") as provider:
        await provider.complete_simple("one")
        await provider.stream_simple("two").start()
    authorizations = [r.headers["Authorization"] for r in fake_upstream.requests]
    assert authorizations == ["Bearer sk-first", "Bearer sk-second"]


async def test_changed_api_key_is_used_from_the_next_call(fake_upstream):
    client = openai.AsyncOpenAI(
        api_key="sk-before", base_url=fake_upstream.openai_base_url, max_retries=0
    )
    async with client:
        await _post_twice(client, fake_upstream)
        client.api_key = "sk-after"
        await _post_twice(client, fake_upstream)
    assert [r.headers["Authorization"] for r in fake_upstream.requests] == [
        "Bearer sk-before",
        "Bearer sk-before",
        "Bearer sk-after",
        "Bearer sk-after",
    ]


async def test_default_headers_are_sent_by_the_prepared_path(fake_upstream):
    client = openai.AsyncOpenAI(
        api_key="sk-test",
        base_url=fake_upstream.openai_base_url,
        max_retries=0,
        default_headers={"X-Tenant": "blue"},
    )
    async with client:
        sent = await _post_twice(client, fake_upstream)
    assert [{k.lower(): v for k, v in r.headers.items()}["x-tenant"] for r in sent] == [
        "blue",
        "blue",
    ]
    assert _prepared._templates[client]["/chat/completions"] is not None


def _azure(fake_upstream, **auth) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=fake_upstream.url,
        azure_deployment="gpt-4o-deployment",
        api_version="2024-10-21",
        max_retries=0,
        **auth,
    )


async def test_azure_api_key_header(fake_upstream):
    client = _azure(fake_upstream, api_key="azure-key")
    async with client:
        sent = await _post_twice(client, fake_upstream)
    for request in sent:
        assert request.path == "/openai/deployments/gpt-4o-deployment/chat/completions"
        assert request.query == "api-version=2024-10-21"
        assert request.headers["api-key"] == "azure-key"
        assert "Authorization" not in request.headers


async def test_azure_ad_token_provider_is_called_per_request(fake_upstream):
    client = _azure(fake_upstream, azure_ad_token_provider=_keys("token-1", "token-2"))
    async with client:
        sent = await _post_twice(client, fake_upstream)
    assert [r.headers["Authorization"] for r in sent] == ["Bearer token-1", "Bearer token-2"]
