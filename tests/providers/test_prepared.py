"""ai.providers._prepared: a request built by the SDK once and re-sent must be the request the
SDK's own ``client.post`` sends, and fail the way ``client.post`` fails."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import orjson
import pytest

from ai.providers import _prepared
from ai.providers._prepared import sdk_post
from tests.providers.conftest import closed_port_url, open_provider

CASES = {
    # provider: (SDK package, path, options the provider passes, a minimal body)
    "openai": (
        openai,
        "/chat/completions",
        {"security": {"bearer_auth": True}},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "anthropic": (
        anthropic,
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


def _client(provider):
    return provider.client if hasattr(provider, "client") else provider._client()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("stream", [False, True])
async def test_same_wire_as_client_post(name, stream, upstream_settings, transport, fake_upstream):
    sdk, path, options, body = CASES[name]
    body = {**body, "stream": True} if stream else body
    async with open_provider(name) as provider:
        client = _client(provider)
        for _ in range(2):  # the second call reuses the template
            response = await sdk_post(
                client, sdk, path, orjson.dumps(body), stream=stream, options=options
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
    sdk, path, options, body = CASES[name]
    body = {**body, "messages": [{"role": "user", "content": "[[fake:status=429 retry_after=3]]"}]}
    async with open_provider(name) as provider:
        with pytest.raises(sdk.RateLimitError) as caught:
            await sdk_post(
                _client(provider), sdk, path, orjson.dumps(body), stream=False, options=options
            )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    assert isinstance(caught.value.body, dict)  # the error body was read, as the SDK does


@pytest.mark.parametrize("name", CASES)
async def test_stream_status_error_reads_the_body(
    name, upstream_settings, transport, fake_upstream
):
    sdk, path, options, body = CASES[name]
    body = {
        **body,
        "stream": True,
        "messages": [{"role": "user", "content": "[[fake:status=503]]"}],
    }
    async with open_provider(name) as provider:
        with pytest.raises(sdk.InternalServerError) as caught:
            await sdk_post(
                _client(provider), sdk, path, orjson.dumps(body), stream=True, options=options
            )
    assert caught.value.status_code == 503
    assert caught.value.body


@pytest.mark.parametrize("name", CASES)
async def test_connection_refused_raises_what_client_post_raises(name, settings, transport):
    sdk, path, options, body = CASES[name]
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = "test-fake-key"
    settings.OPENAI_BASE_URL = closed_port_url("/v1")
    settings.ANTHROPIC_BASE_URL = closed_port_url()
    async with open_provider(name) as provider:
        client = _client(provider)
        with pytest.raises(sdk.APIConnectionError) as ours:
            await sdk_post(client, sdk, path, orjson.dumps(body), stream=False, options=options)
        with pytest.raises(sdk.APIConnectionError) as theirs:
            await client.post(path, cast_to=httpx2.Response, body=body, options=options)
    # (openai's aiohttp adapter reports a refused connection as a connect timeout: same class)
    assert type(ours.value) is type(theirs.value)
    assert type(ours.value.__cause__) is type(theirs.value.__cause__)


@pytest.mark.parametrize("name", CASES)
async def test_timeout_is_api_timeout_error(name, upstream_settings, transport, settings):
    sdk, path, options, body = CASES[name]
    settings.AI_REQUEST_TIMEOUT = 0.3
    body = {**body, "messages": [{"role": "user", "content": "[[fake:delay=2]]"}]}
    async with open_provider(name) as provider:
        with pytest.raises(sdk.APITimeoutError):
            await sdk_post(
                _client(provider), sdk, path, orjson.dumps(body), stream=False, options=options
            )


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
            response = await sdk_post(client, openai, "/chat/completions", body, stream=False)
            await response.aread()
        assert _prepared._templates[client] == {"/chat/completions": None}
    finally:
        await client.close()
    assert [r.headers.get("x-signed") for r in fake_upstream.requests] == ["yes", "yes"]
