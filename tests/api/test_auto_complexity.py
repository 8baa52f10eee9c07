"""``complexity: "auto"`` on the routed endpoint and the model ``auto`` on the OpenAI-compatible
surface: the classifier picks the route, the answer says what it picked and why, and the usage
event carries the class. Offline provider: each answer names the model its route asked for."""

from __future__ import annotations

import asyncio

import openai
import pytest

from ai.usage.events import STATUS_OK
from tests.api.conftest import ROUTED
from tests.api.live import LiveGateway
from tests.api.sse_client import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

PROOF = "Prove that there are infinitely many prime numbers."  # complex
GREETING = "hi there"  # simple
NEWS = "What's the latest news about the Federal Reserve?"  # search


async def test_routed_auto_answers_with_the_class_and_its_reasons(api, usage_events):
    response = await api.post(ROUTED, {"prompt": PROOF, "complexity": "auto"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["complexity"] == "complex"
    assert body["routing"] == {
        "complexity": "complex",
        "auto": True,
        "reasons": ["reasoning: prove", "score 4 >= complex 4"],
    }
    # The complex route's first target, answered offline.
    assert body["content"] == f"[offline:claude-sonnet-4-5-20250929] You said: {PROOF}"
    [event] = usage_events
    assert (event.endpoint, event.complexity, event.status) == ("chat_routed", "complex", STATUS_OK)


@pytest.mark.parametrize(
    ("prompt", "complexity", "model"),
    [(GREETING, "simple", "gpt-4o-mini"), (NEWS, "search", "gpt-4o")],
)
async def test_routed_auto_follows_the_class_route(api, usage_events, prompt, complexity, model):
    body = (await api.post(ROUTED, {"prompt": prompt, "complexity": "auto"})).json()
    assert (body["complexity"], body["routing"]["complexity"]) == (complexity, complexity)
    assert body["content"].startswith(f"[offline:{model}]")
    assert usage_events[0].complexity == complexity


async def test_the_system_prompt_is_part_of_the_length_not_of_the_cues(api):
    body = {"prompt": "hi", "system": "Prove everything.", "complexity": "auto"}
    assert (await api.post(ROUTED, body)).json()["complexity"] == "simple"


async def test_routed_auto_stream_says_it_in_the_done_event(api, usage_events):
    response = await api.post(ROUTED, {"prompt": PROOF, "complexity": "auto", "stream": True})
    assert response.status_code == 200
    frames = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    done = next(f.json() for f in frames if f.data.startswith('{"type":"done"'))
    assert done["complexity"] == "complex"
    assert done["routing"]["auto"] is True
    assert done["routing"]["reasons"][0] == "reasoning: prove"
    [event] = usage_events
    assert (event.complexity, event.streamed, event.status) == ("complex", True, STATUS_OK)


async def test_an_explicit_complexity_has_no_routing_explanation(api):
    body = (await api.post(ROUTED, {"prompt": PROOF, "complexity": "simple"})).json()
    assert body["complexity"] == "simple"
    assert "routing" not in body


async def test_the_operator_thresholds_apply(api, settings, usage_events):
    settings.AI_CLASSIFIER = {"strong_reasoning_weight": 2}  # a proof alone is now moderate
    body = (await api.post(ROUTED, {"prompt": PROOF, "complexity": "auto"})).json()
    assert body["complexity"] == "moderate"
    assert body["content"].startswith("[offline:gpt-4o]")
    assert usage_events[0].complexity == "moderate"


async def test_a_bad_classifier_setting_is_an_error_recorded_in_the_ledger(
    api, settings, usage_events
):
    settings.AI_CLASSIFIER = {"no_such_dial": 1}
    response = await api.post(ROUTED, {"prompt": PROOF, "complexity": "auto"})
    assert response.status_code == 500
    assert "no_such_dial" not in response.content.decode()  # configuration stays in the logs
    [event] = usage_events
    assert event.status == "error"


async def test_auto_is_listed_among_the_valid_complexities(api):
    response = await api.post(ROUTED, {"prompt": "hi", "complexity": "hard"})
    assert response.status_code == 400
    message = " ".join(response.json()["error"]["fields"]["complexity"])
    assert "simple, moderate, complex, search, auto" in message


# --- the OpenAI SDK, model="auto" -----------------------------------------------------------


@pytest.fixture
def live(transactional_db):
    server = LiveGateway().start()
    yield server
    server.stop()


@pytest.fixture
async def client(live, token):
    async with openai.AsyncOpenAI(
        api_key=token, base_url=f"{live.url}/api/v1/openai", max_retries=0, timeout=10
    ) as sdk:
        yield sdk


async def test_openai_sdk_model_auto(client, usage_events):
    completion = await client.chat.completions.create(
        model="auto",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": PROOF},
        ],
    )
    content = completion.choices[0].message.content
    assert content == f"[offline:claude-sonnet-4-5-20250929] You said: {PROOF}"
    [event] = usage_events
    assert (event.endpoint, event.complexity) == ("openai_chat_completions", "complex")


async def test_openai_sdk_model_auto_stream(client, usage_events):
    stream = await client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": GREETING}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.startswith("[offline:gpt-4o-mini]")
    for _ in range(100):  # a stream records after its last frame
        if usage_events:
            break
        await asyncio.sleep(0.02)
    [event] = usage_events
    assert (event.complexity, event.streamed) == ("simple", True)


async def test_offered_tools_count_in_the_class(client, usage_events):
    """The classifier's ``tools_weight``: a greeting is SIMPLE, the same greeting offering a
    tool MODERATE, on the request path as in its documentation."""
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    messages = [{"role": "user", "content": GREETING}]
    plain = await client.chat.completions.create(model="auto", messages=messages)
    offered = await client.chat.completions.create(model="auto", messages=messages, tools=[tool])
    assert plain.choices[0].message.content.startswith("[offline:gpt-4o-mini]")
    assert offered.choices[0].finish_reason == "tool_calls"  # the offline model calls it
    assert [e.complexity for e in usage_events] == ["simple", "moderate"]


async def test_openai_models_lists_auto(client):
    owners = {model.id: model.owned_by async for model in client.models.list()}
    assert owners.get("auto") == "gateway", owners
    assert owners["offline-echo"] == "offline"  # the default model (no vendor configured)
