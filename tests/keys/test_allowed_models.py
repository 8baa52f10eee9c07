"""A key's model list: a model outside it is refused (403 ``model_not_allowed``, naming the model)
before any upstream call; a routed request uses only the route's targets the key allows. The
three providers point at the fake upstream, whose captured requests show what went out."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from ai.keys import KeyInfo, allowed_targets
from ai.services.routes import ModelRoute
from tests.api.conftest import COMPLETIONS, OPENAI_CHAT, ROUTED
from tests.keys.conftest import KeyClient

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def providers(upstream_settings):
    upstream_settings.AI_MAX_RETRIES = 0
    return upstream_settings


async def _client(make_key, models: list[str]) -> tuple[KeyClient, object]:
    key, full_key = await sync_to_async(make_key)(allowed_models=models)
    return KeyClient(full_key), key


def _upstream_models(fake_upstream) -> list[str]:
    out = []
    for captured in fake_upstream.requests:
        if "gemini" in captured.path:
            out.append(captured.path.split("/models/")[1].split(":")[0])
        else:
            out.append(captured.body["model"])
    return out


@pytest.mark.parametrize("stream", [False, True])
async def test_a_model_outside_the_list_is_refused_before_any_upstream_call(
    providers, fake_upstream, make_key, usage_events, stream
):
    client, key = await _client(make_key, ["openai/gpt-4o-mini"])
    response = await client.post(
        COMPLETIONS, {"messages": MESSAGES, "model": "gpt-4o", "stream": stream}
    )
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "model_not_allowed"
    assert "'openai/gpt-4o'" in error["message"] and "openai/gpt-4o-mini" in error["message"]
    assert fake_upstream.requests == []
    [event] = usage_events
    assert (event.status, event.error_code, event.api_key_id) == ("error", error["code"], key.pk)
    assert (event.provider, event.model, event.usage) == ("openai", "gpt-4o", None)


async def test_a_model_in_the_list_is_served(providers, fake_upstream, make_key):
    client, _ = await _client(make_key, ["openai/gpt-4o-mini"])
    response = await client.post(COMPLETIONS, {"messages": MESSAGES, "model": "gpt-4o-mini"})
    assert response.status_code == 200, response.content
    assert _upstream_models(fake_upstream) == ["gpt-4o-mini"]


async def test_the_default_model_is_checked_too(providers, fake_upstream, make_key):
    """No model named: the default one (offline-echo in the tests' settings) is the target."""
    client, _ = await _client(make_key, ["gpt-4o-mini"])
    response = await client.post(COMPLETIONS, {"messages": MESSAGES})
    assert response.status_code == 403
    assert "'offline/offline-echo'" in response.json()["error"]["message"]


async def test_a_routed_request_uses_only_the_targets_the_key_allows(
    providers, fake_upstream, make_key
):
    """simple = gpt-4o-mini, then gemini-2.5-flash, then claude-haiku-4-5: the key allows
    only the second, so the router goes there first."""
    client, _ = await _client(make_key, ["gemini-2.5-flash"])
    response = await client.post(ROUTED, {"prompt": "hi", "complexity": "simple"})
    assert response.status_code == 200, response.content
    assert response.json()["provider"] == "gemini"
    assert _upstream_models(fake_upstream) == ["gemini-2.5-flash"]


async def test_a_route_with_no_allowed_target_is_refused_naming_it(
    providers, fake_upstream, make_key
):
    client, _ = await _client(make_key, ["gemini-2.5-flash"])
    response = await client.post(ROUTED, {"prompt": "hi", "complexity": "complex"})
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "route 'complex'" in message and "anthropic/claude-sonnet-4-5-20250929" in message
    assert fake_upstream.requests == []


async def test_a_route_name_allows_whatever_that_route_picks_and_only_it(
    providers, fake_upstream, make_key
):
    client, _ = await _client(make_key, ["simple"])
    response = await client.post(ROUTED, {"prompt": "hi", "complexity": "simple"})
    assert response.status_code == 200, response.content
    assert _upstream_models(fake_upstream) == ["gpt-4o-mini"]
    for body in (
        {"prompt": "hi", "complexity": "complex"},
        # the route's own model, named directly: not the route
        {"prompt": "hi", "complexity": "simple", "model": "gpt-4o-mini"},
    ):
        response = await client.post(ROUTED, body)
        assert response.status_code == 403, body
    assert len(fake_upstream.requests) == 1


async def test_a_provider_wildcard(providers, fake_upstream, make_key):
    client, _ = await _client(make_key, ["anthropic/*"])
    ok = await client.post(COMPLETIONS, {"messages": MESSAGES, "model": "claude-haiku-4-5"})
    assert ok.status_code == 200, ok.content
    refused = await client.post(COMPLETIONS, {"messages": MESSAGES, "model": "gpt-4o"})
    assert refused.status_code == 403
    assert _upstream_models(fake_upstream) == ["claude-haiku-4-5"]


async def test_the_openai_compatible_endpoint_refuses_in_openai_shape(
    providers, fake_upstream, make_key
):
    client, _ = await _client(make_key, ["gpt-4o-mini"])
    response = await client.post(OPENAI_CHAT, {"model": "gpt-4o", "messages": MESSAGES})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "model_not_allowed" and "gpt-4o" in error["message"]
    assert fake_upstream.requests == []
    ok = await client.post(OPENAI_CHAT, {"model": "gpt-4o-mini", "messages": MESSAGES})
    assert ok.status_code == 200


def test_entries_match_provider_model_bare_model_and_wildcard():
    key = KeyInfo(1, "aig_abcdefgh", "k", 1, allowed_models=("openai/gpt-4o", "Claude-Haiku-4-5"))
    assert key.permits("openai", "gpt-4o")
    assert not key.permits("azure", "gpt-4o")  # provider/model names that provider only
    assert key.permits("anthropic", "claude-haiku-4-5")  # a bare model: any provider, any case
    assert not key.permits("openai", "gpt-4o-mini")
    assert KeyInfo(1, "aig_abcdefgh", "k", 1).permits("any", "thing")  # no list: everything
    targets = [ModelRoute("openai", "gpt-4o"), ModelRoute("openai", "gpt-4o-mini")]
    assert allowed_targets(key, targets, complexity="moderate", overridden=False) == targets[:1]
    assert allowed_targets(None, targets, complexity=None, overridden=True) == targets
