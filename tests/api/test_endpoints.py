"""The four endpoints answering normally: response shapes, routing, request ids, usage."""

from __future__ import annotations

import uuid

import orjson
import pytest

from ai.usage.events import STATUS_OK
from tests.api.conftest import CHAT, COMPLETIONS, ROUTED, STATUS
from tests.api.sse_client import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

RESPONSE_KEYS = {
    "id", "content", "model", "provider", "finish_reason", "usage", "latency_ms", "cost",
}  # fmt: skip
USAGE_KEYS = {
    "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens",
    "cache_write_tokens",
    "source",
}  # fmt: skip


def _ok(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["id"] == response["X-Request-ID"]
    uuid.UUID(hex=body["id"])
    return body


async def test_completions(api, usage_events, user):
    body = _ok(
        await api.post(
            COMPLETIONS,
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "first question"},
                    {"role": "assistant", "content": "first answer"},
                    {"role": "user", "content": "second question"},
                ],
                "temperature": 0.3,
                "max_tokens": 50,
            },
        )
    )
    assert set(body) == RESPONSE_KEYS
    assert body["content"] == "[offline:offline-echo] You said: second question"
    assert (body["provider"], body["model"], body["finish_reason"]) == (
        "offline",
        "offline-echo",
        "stop",
    )
    assert set(body["usage"]) == USAGE_KEYS
    # The offline provider counts one token per word, plus one per message for its role.
    assert body["usage"]["prompt_tokens"] == 3 + 3 + 3 + 3
    assert body["usage"]["completion_tokens"] == 5  # words in the answer
    assert body["latency_ms"] >= 0

    [event] = usage_events
    assert (event.request_id, event.endpoint, event.status) == (body["id"], "completions", "ok")
    assert (event.provider, event.model, event.user_id) == ("offline", "offline-echo", user.pk)
    assert event.usage.total_tokens == body["usage"]["total_tokens"]
    assert event.streamed is False and event.error_code == "" and event.complexity == ""


async def test_chat_with_system_prompt(api, usage_events):
    body = _ok(await api.post(CHAT, {"prompt": "hello world", "system": "You are terse."}))
    assert body["content"] == "[offline:offline-echo] You said: hello world"
    assert body["usage"]["prompt_tokens"] == (3 + 1) + (2 + 1)
    assert [e.endpoint for e in usage_events] == ["chat"]


async def test_chat_max_tokens_reaches_the_provider(api):
    body = _ok(await api.post(CHAT, {"prompt": "one two three four five", "max_tokens": 2}))
    assert body["content"] == "[offline:offline-echo] You"
    assert body["finish_reason"] == "length"


async def test_routed_chat_reports_its_complexity(api, usage_events):
    body = _ok(await api.post(ROUTED, {"prompt": "hi", "complexity": "complex"}))
    assert set(body) == RESPONSE_KEYS | {"complexity"}
    assert body["complexity"] == "complex"
    # No real provider is configured in tests: the route's first target is served offline,
    # and says so: the model that answered is the offline one, not the route's real model.
    assert (body["provider"], body["model"]) == ("offline", "offline-echo")
    assert body["content"] == "[offline:claude-sonnet-4-5-20250929] You said: hi"
    [event] = usage_events
    assert (event.endpoint, event.complexity) == ("chat_routed", "complex")
    assert (event.provider, event.model) == ("offline", "offline-echo")
    assert event.requested_model == "claude-sonnet-4-5-20250929"


async def test_routed_chat_defaults_to_moderate(api):
    body = _ok(await api.post(ROUTED, {"prompt": "hi"}))
    assert body["complexity"] == "moderate"
    assert body["content"].startswith("[offline:gpt-4o]")


async def test_null_means_not_given(api):
    body = _ok(
        await api.post(
            ROUTED,
            {
                "prompt": "hi",
                "system": None,
                "complexity": None,
                "provider": None,
                "model": None,
                "temperature": None,
                "max_tokens": None,
                "stream": None,
            },
        )
    )
    assert body["complexity"] == "moderate"


async def test_model_override(api):
    body = _ok(await api.post(CHAT, {"prompt": "hi", "model": "offline-large"}))
    assert body["model"] == "offline-echo"
    assert body["content"].startswith("[offline:offline-large]")


async def test_offline_stream_reports_the_offline_model(api, usage_events):
    response = await api.post(ROUTED, {"prompt": "hi", "complexity": "simple", "stream": True})
    assert response.status_code == 200
    frames = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    done = next(f.json() for f in frames if f.data.startswith('{"type":"done"'))
    assert (done["provider"], done["model"]) == ("offline", "offline-echo")
    [event] = usage_events
    assert (event.model, event.requested_model) == ("offline-echo", "gpt-4o-mini")


async def test_provider_override_on_routed_chat(api, scripted_provider):
    body = _ok(await api.post(ROUTED, {"prompt": "hi", "provider": "scripted"}))
    assert (body["provider"], body["model"]) == ("scripted", "scripted-1")
    assert body["content"] == "scripted answer to: hi"


async def test_json_with_charset_is_accepted(api):
    response = await api.post(
        CHAT, b'{"prompt": "hi"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200


async def test_cost_is_a_decimal_string_or_null(api, monkeypatch):
    from decimal import Decimal

    async def priced(provider, model, usage, at=None, requested_model=""):
        return (Decimal("0.000125") if provider == "offline" else None), ""

    monkeypatch.setattr("ai.usage.pricing.cost_with_fallback", priced)
    body = _ok(await api.post(CHAT, {"prompt": "hi"}))
    assert body["cost"] == "0.000125"


async def test_a_failing_price_lookup_does_not_fail_the_request(api, monkeypatch, usage_events):
    async def broken(*args, **kwargs):
        raise RuntimeError("price table unavailable")

    monkeypatch.setattr("ai.usage.pricing.cost_with_fallback", broken)
    body = _ok(await api.post(CHAT, {"prompt": "hi"}))
    assert body["cost"] is None
    assert usage_events[0].status == STATUS_OK


async def test_request_ids_are_unique(api):
    ids = {(await api.get(STATUS))["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


async def test_concurrent_requests_each_record_their_own_usage(api, usage_events):
    import asyncio

    responses = await asyncio.gather(
        *(api.post(CHAT, {"prompt": f"question {i}"}) for i in range(20))
    )
    bodies = [orjson.loads(r.content) for r in responses]
    assert all(b["content"].endswith(f"question {i}") for i, b in enumerate(bodies))
    assert sorted(e.request_id for e in usage_events) == sorted(b["id"] for b in bodies)


async def test_head_and_options(api):
    head = await api.client.head(STATUS, headers=api._headers(None))
    assert head.status_code == 200
    assert head["X-Request-ID"]
    options = await api.client.options(CHAT, headers=api._headers(None))
    assert options.status_code == 200
    assert options["Allow"] == "POST, OPTIONS"
    assert options["X-Request-ID"]
    assert "application/json" in options.json()["parses"]


async def test_completions_cache_breakpoints_reach_a_claude_target(
    api, upstream_settings, fake_upstream, usage_events
):
    """``cache_control`` on a message of the gateway's own API: Anthropic gets the breakpoint,
    writes on the first request and reads on the next; the usage says so."""
    rules = "the house rules, at length " * 10
    usages = []
    for question in ("first question", "second question"):
        body = _ok(
            await api.post(
                COMPLETIONS,
                {
                    "messages": [
                        {
                            "role": "system",
                            "content": rules,
                            "cache_control": {"type": "ephemeral"},
                        },
                        {"role": "user", "content": question},
                    ],
                    "provider": "anthropic",
                    "model": "claude-haiku-4-5",
                },
            )
        )
        usages.append(body["usage"])
    sent = fake_upstream.requests[0].body
    assert sent["system"] == [
        {"type": "text", "text": rules, "cache_control": {"type": "ephemeral"}}
    ]
    words = len(rules.split())
    assert (usages[0]["cache_write_tokens"], usages[0]["cached_tokens"]) == (words, 0)
    assert (usages[1]["cache_write_tokens"], usages[1]["cached_tokens"]) == (0, words)


@pytest.mark.parametrize(
    ("url", "ask", "provider", "sent"),
    [
        (COMPLETIONS, {"messages": [{"role": "user", "content": "Why?"}]}, "anthropic",
         lambda body: body["thinking"]["budget_tokens"] == 8192),
        (CHAT, {"prompt": "Why?"}, "gemini",
         lambda body: body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 8192}),
        (CHAT, {"prompt": "Why?"}, "openai", lambda body: body["reasoning_effort"] == "medium"),
    ],
)  # fmt: skip
async def test_reasoning_effort_on_the_native_endpoints(
    api, upstream_settings, fake_upstream, url, ask, provider, sent
):
    body = _ok(await api.post(url, {**ask, "provider": provider, "reasoning_effort": "medium"}))
    assert body["usage"]["reasoning_tokens"] > 0
    assert sent(fake_upstream.requests[-1].body)


async def test_an_unknown_reasoning_effort_is_a_400_naming_it(api):
    response = await api.post(CHAT, {"prompt": "hi", "reasoning_effort": "extreme"})
    assert response.status_code == 400
    assert "reasoning_effort" in response.json()["error"]["fields"]
