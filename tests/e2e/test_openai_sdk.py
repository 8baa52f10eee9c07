"""The official openai SDK, sync (``openai.OpenAI``) and async (``openai.AsyncOpenAI``), against
the gateway under its real ASGI server, each upstream provider's real SDK talking to the fake
upstream: text, streams, a full tool round trip (create, and the SDK's stream helper
reassembling streamed tool calls), structured output through ``parse``, and the exception
class the SDK raises for each error status. Every call leaves one ledger row with its usage."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from asgiref.sync import sync_to_async
from pydantic import BaseModel

from ai.models import ApiKey
from tests.e2e.conftest import assert_rows_have_usage, ledger_rows
from tests.fake_upstream import fake_prompt_tokens, reply_deltas
from tests.fake_upstream.scenario import fake_arguments, tool_reply

pytestmark = pytest.mark.django_db(transaction=True)

#: model asked for -> the vendor whose wire it goes over (and whose fake answers).
ENDPOINT = "openai_chat_completions"
TARGETS = {
    "gpt-4o-mini": "openai",
    "claude-sonnet-4-5": "anthropic",
    "gemini-2.5-flash": "gemini",
}
#: Targets whose provider translates tools and response formats.
TOOL_TARGETS = list(TARGETS)

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER,
        },
    }
]
ASK = [
    {"role": "developer", "content": "Use the tools."},
    {"role": "user", "content": "What is the weather in Paris?"},
]
RESULT = "sunny, 21 C"


class Weather(BaseModel):
    city: str
    temperature: int
    sunny: bool


def base_url(live) -> str:
    return f"{live.url}/api/v1/openai"


def sync_client(live, api_key: str) -> openai.OpenAI:
    # No SDK retries: every failure reaches the test as the gateway answered it.
    return openai.OpenAI(api_key=api_key, base_url=base_url(live), max_retries=0, timeout=10)


def async_client(live, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=api_key, base_url=base_url(live), max_retries=0, timeout=10)


@pytest.fixture
async def aclient(live, token):
    async with async_client(live, token) as client:
        yield client


def reply(model: str) -> str:
    return "".join(reply_deltas(TARGETS[model], model, 5))


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", TARGETS)
async def test_async_text_stream_and_not(aclient, model):
    plain = await aclient.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Say hello."}]
    )
    completion = plain.parse()
    assert completion.choices[0].message.content == reply(model)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model.startswith(model)  # Gemini reports a version: "...-001"

    stream = await aclient.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Say hello."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply(model)
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"

    request_ids = [plain.headers["x-request-id"], stream.response.headers["x-request-id"]]
    found = await ledger_rows(2)
    assert_rows_have_usage(found, request_ids, TARGETS[model], ENDPOINT)
    assert found[1].streamed and found[1].total_tokens == chunks[-1].usage.total_tokens


@pytest.mark.parametrize("model", TARGETS)
async def test_sync_text_stream_and_not(live, token, model):
    def run() -> list[str]:
        with sync_client(live, token) as client:
            raw = client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "Say hello."}]
            )
            assert raw.parse().choices[0].message.content == reply(model)
            with client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Say hello."}], stream=True
            ) as stream:
                text = "".join(c.choices[0].delta.content or "" for c in stream)
            assert text == reply(model)
            return [raw.headers["x-request-id"], stream.response.headers["x-request-id"]]

    request_ids = await asyncio.to_thread(run)
    assert_rows_have_usage(
        await ledger_rows(2), request_ids, TARGETS[model], "openai_chat_completions"
    )


# --- tools ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", TOOL_TARGETS)
async def test_async_tool_round_trip(aclient, model):
    raw = await aclient.chat.completions.with_raw_response.create(
        model=model, messages=ASK, tools=TOOLS
    )
    first = raw.parse()
    [choice] = first.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == fake_arguments(WEATHER)

    # The SDK's own message object goes back as it is, as applications do.
    messages = [*ASK, choice.message, {"role": "tool", "tool_call_id": call.id, "content": RESULT}]
    final_raw = await aclient.chat.completions.with_raw_response.create(
        model=model, messages=messages, tools=TOOLS
    )
    final = final_raw.parse()
    assert final.choices[0].message.content == tool_reply(RESULT)
    assert final.choices[0].finish_reason == "stop"
    assert not final.choices[0].message.tool_calls

    request_ids = [raw.headers["x-request-id"], final_raw.headers["x-request-id"]]
    assert_rows_have_usage(
        await ledger_rows(2), request_ids, TARGETS[model], "openai_chat_completions"
    )


@pytest.mark.parametrize("model", TOOL_TARGETS)
async def test_streamed_tool_calls_in_openais_delta_shape(aclient, model):
    stream = await aclient.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris and Rome? [[fake:tool_calls=2]]"}],
        tools=[*TOOLS, {"type": "function", "function": {"name": "get_time"}}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content is None  # no text: null, as OpenAI sends it
    pieces = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
    by_index: dict[int, list] = {}
    for piece in pieces:
        by_index.setdefault(piece.index, []).append(piece)
    assert sorted(by_index) == [0, 1]
    for index, (head, *rest) in by_index.items():
        assert head.id and head.type == "function" and head.function.arguments == ""
        assert head.function.name == ["get_weather", "get_time"][index]
        for piece in rest:  # then argument fragments only
            assert piece.id is None and piece.type is None and piece.function.name is None
    arguments = ["".join(p.function.arguments for p in by_index[i]) for i in (0, 1)]
    assert [json.loads(a) for a in arguments] == [fake_arguments(WEATHER), {}]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage.total_tokens > 0
    [row] = await ledger_rows(1)
    assert row.streamed and row.status == "ok" and row.total_tokens > 0


@pytest.mark.parametrize("model", TOOL_TARGETS)
async def test_sync_stream_helper_tool_round_trip(live, token, model):
    def run() -> list[str]:
        with sync_client(live, token) as client:
            with client.chat.completions.stream(model=model, messages=ASK, tools=TOOLS) as stream:
                events = [event.type for event in stream]
                first = stream.get_final_completion()
            # The helper keeps the raw response to itself; the id says the request id.
            request_ids = [first.id.removeprefix("chatcmpl-")]
            assert "tool_calls.function.arguments.done" in events
            [choice] = first.choices
            assert choice.finish_reason == "tool_calls"
            assert choice.message.content is None
            [call] = choice.message.tool_calls
            assert call.function.name == "get_weather"
            assert json.loads(call.function.arguments) == fake_arguments(WEATHER)

            messages = [
                *ASK,
                choice.message,
                {"role": "tool", "tool_call_id": call.id, "content": RESULT},
            ]
            with client.chat.completions.stream(
                model=model, messages=messages, tools=TOOLS
            ) as stream:
                final = stream.get_final_completion()
            request_ids.append(final.id.removeprefix("chatcmpl-"))
            assert final.choices[0].message.content == tool_reply(RESULT)
            return request_ids

    request_ids = await asyncio.to_thread(run)
    assert_rows_have_usage(
        await ledger_rows(2), request_ids, TARGETS[model], "openai_chat_completions"
    )


@pytest.mark.parametrize("model", TOOL_TARGETS)
async def test_parse_with_a_pydantic_model(aclient, model):
    raw = await aclient.chat.completions.with_raw_response.parse(
        model=model,
        messages=[{"role": "user", "content": "The weather in Paris, as JSON."}],
        response_format=Weather,
    )
    parsed = raw.parse().choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert parsed == Weather.model_validate(fake_arguments(Weather.model_json_schema()))
    assert_rows_have_usage(
        await ledger_rows(1),
        [raw.headers["x-request-id"]],
        TARGETS[model],
        "openai_chat_completions",
    )


# --- errors: the SDK raises its own class for each status -----------------------------------


async def test_bad_request_names_the_param(aclient):
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.chat.completions.create(
            model="gpt-4o-mini",
            messages=ASK,
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    assert caught.value.status_code == 400
    assert caught.value.param == "tool_choice.function.name"
    assert caught.value.code == "invalid_request"


async def test_an_unknown_field_goes_to_openai_and_is_refused_elsewhere(aclient):
    ok = await aclient.chat.completions.create(
        model="gpt-4o-mini", messages=ASK, extra_body={"prediction_hint": "x"}
    )
    assert ok.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.chat.completions.create(
            model="claude-sonnet-4-5", messages=ASK, extra_body={"prediction_hint": "x"}
        )
    error = caught.value
    assert (error.status_code, error.code, error.param) == (
        400,
        "unsupported_parameter",
        "prediction_hint",
    )
    assert error.type == "invalid_request_error" and "anthropic" in error.message


async def test_authentication_error(live):
    async with async_client(live, "aig_nokey123_" + "x" * 40) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert caught.value.status_code == 401


async def test_a_key_not_allowed_the_model_is_permission_denied(live, user):
    _key, full_key = await sync_to_async(ApiKey.issue)(
        user, "only gemini", allowed_models=["gemini/*"]
    )
    async with async_client(live, full_key) as client:
        allowed = await client.chat.completions.create(model="gemini-2.5-flash", messages=ASK)
        assert allowed.choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert caught.value.status_code == 403
    assert caught.value.code == "model_not_allowed"


async def test_unknown_model_is_not_found(aclient):
    with pytest.raises(openai.NotFoundError) as caught:
        await aclient.chat.completions.create(model="no-such-model", messages=ASK)
    assert (caught.value.status_code, caught.value.code) == (404, "model_not_found")


async def test_upstream_rate_limit(aclient):
    with pytest.raises(openai.RateLimitError) as caught:
        await aclient.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "[[fake:status=429 retry_after=3]]"}],
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize(
    ("directive", "status"), [("status=503", 503), ("status=500", 503), ("drop_after=0", 502)]
)
async def test_upstream_failure_is_an_internal_server_error(aclient, directive, status):
    with pytest.raises(openai.InternalServerError) as caught:
        await aclient.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": f"[[fake:{directive}]]"}],
        )
    assert caught.value.status_code == status
    assert caught.value.type == "api_error"
    [row] = await ledger_rows(1)
    assert row.status == "error" and row.request_id == caught.value.response.headers["x-request-id"]


@pytest.mark.parametrize("model", TOOL_TARGETS)
async def test_async_stream_helper_parses_structured_output(aclient, model):
    async with aclient.chat.completions.stream(
        model=model,
        messages=[{"role": "user", "content": "The weather in Paris, as JSON."}],
        response_format=Weather,
    ) as stream:
        deltas = [event.delta async for event in stream if event.type == "content.delta"]
        final = await stream.get_final_completion()
    parsed = final.choices[0].message.parsed
    assert parsed == Weather.model_validate(fake_arguments(Weather.model_json_schema()))
    assert "".join(deltas) == final.choices[0].message.content
    [row] = await ledger_rows(1)
    assert row.streamed and row.request_id == final.id.removeprefix("chatcmpl-")


# --- images, routes -------------------------------------------------------------------------

PNG = (  # one pixel
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("model", TARGETS)
async def test_an_image_as_a_data_url(aclient, model):
    raw = await aclient.chat.completions.with_raw_response.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert raw.parse().choices[0].message.content == reply(model)
    assert_rows_have_usage(
        await ledger_rows(1),
        [raw.headers["x-request-id"]],
        TARGETS[model],
        "openai_chat_completions",
    )


async def test_routes_are_models(live, token):
    def run() -> tuple[list[str], list[str]]:
        with sync_client(live, token) as client:
            listed = [model.id for model in client.models.list()]
            ids = []
            for route in ("simple", "auto"):
                raw = client.chat.completions.with_raw_response.create(
                    model=route, messages=[{"role": "user", "content": "Hi."}]
                )
                assert raw.parse().choices[0].message.content
                ids.append(raw.headers["x-request-id"])
            return listed, ids

    listed, request_ids = await asyncio.to_thread(run)
    assert {"gpt-4o", "simple", "moderate", "complex", "search", "auto"} <= set(listed)
    found = await ledger_rows(2)
    assert [row.request_id for row in found] == request_ids
    assert [row.complexity for row in found][:1] == ["simple"]  # "auto": what it classified
    assert all(row.status == "ok" and row.total_tokens > 0 for row in found)


async def test_the_gateways_own_rate_limit(live, user):
    _key, full_key = await sync_to_async(ApiKey.issue)(user, "one a minute", rpm=1)
    async with async_client(live, full_key) as client:
        await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert (caught.value.status_code, caught.value.code) == (429, "rate_limit_exceeded")
    assert int(caught.value.response.headers["retry-after"]) > 0


#: How each vendor's wire carries reasoning_effort="low" (AI_REASONING_BUDGETS' default).
REASONING_SENT = {
    "openai": lambda body: body["reasoning_effort"] == "low",
    "anthropic": lambda body: body["thinking"] == {"type": "enabled", "budget_tokens": 2048},
    "gemini": lambda body: body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048},
}


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("model", TARGETS)
async def test_reasoning_effort_reaches_every_vendor(aclient, fake_upstream, model, stream):
    kwargs = {"stream_options": {"include_usage": True}} if stream else {}
    answer = await aclient.chat.completions.create(
        model=model, messages=ASK, reasoning_effort="low", stream=stream, **kwargs
    )
    if stream:
        chunks = [chunk async for chunk in answer]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        text, usage = answer.choices[0].message.content, answer.usage
    assert text == reply(model)  # the thoughts are not part of the answer
    assert usage.completion_tokens_details.reasoning_tokens > 0
    assert REASONING_SENT[TARGETS[model]](fake_upstream.requests[-1].body)
    [row] = await ledger_rows(1)
    assert row.reasoning_tokens == usage.completion_tokens_details.reasoning_tokens


async def test_a_claude_rule_of_reasoning_is_a_400_naming_the_parameter(aclient):
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.chat.completions.create(
            model="claude-sonnet-4-5", messages=ASK, reasoning_effort="low", temperature=0.3
        )
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", "temperature")


#: (model, what the request asks for, the option its target cannot honour)
NOT_HONOURED = [
    ("gemini-2.5-flash", {"tools": TOOLS, "parallel_tool_calls": False}, "parallel_tool_calls"),
    ("claude-sonnet-4-5", {"seed": 1}, "seed"),
    ("gemini-2.5-flash", {"extra_body": {"verbosity": "low"}}, "verbosity"),
]


@pytest.mark.parametrize(("model", "kwargs", "param"), NOT_HONOURED)
async def test_what_a_target_cannot_honour_is_refused_naming_it(aclient, model, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.chat.completions.create(model=model, messages=ASK, **kwargs)
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", param)
    [row] = await ledger_rows(1)
    assert (row.status, row.error_code) == ("error", "unsupported_parameter")


def _dropping(kwargs: dict, drop: bool | None) -> dict:
    extra_body = dict(kwargs.get("extra_body", {}))
    if drop is not None:
        extra_body["drop_params"] = drop
    return {**kwargs, "extra_body": extra_body}


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(("model", "kwargs", "param"), NOT_HONOURED)
async def test_drop_params_leaves_out_only_what_the_target_cannot_honour(
    aclient, fake_upstream, model, kwargs, param, stream
):
    raw = await aclient.chat.completions.with_raw_response.create(
        model=model, messages=ASK, top_p=0.5, stream=stream, **_dropping(kwargs, True)
    )
    if stream:
        async for _chunk in raw.parse():
            pass
    else:
        assert raw.parse().choices[0].finish_reason in ("stop", "tool_calls")
    route = raw.headers["x-ai-route"]
    assert route.endswith(f"=ok; dropped={param}"), route
    [row] = await ledger_rows(1)
    assert (row.status, row.routing) == ("ok", route)
    # What the target can honour still goes to it: top_p, and the tools.
    sent = fake_upstream.requests[-1].body
    top_p = sent.get("top_p", sent.get("generationConfig", {}).get("topP"))
    assert top_p == 0.5, sent
    assert bool(sent.get("tools")) == ("tools" in kwargs)


@pytest.mark.parametrize(("model", "kwargs", "param"), NOT_HONOURED)
async def test_the_drop_params_setting_and_a_request_that_says_no(
    aclient, upstream_settings, model, kwargs, param
):
    upstream_settings.AI_DROP_PARAMS = True
    raw = await aclient.chat.completions.with_raw_response.create(
        model=model, messages=ASK, **_dropping(kwargs, None)
    )
    assert raw.headers["x-ai-route"].endswith(f"; dropped={param}")
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.chat.completions.create(model=model, messages=ASK, **_dropping(kwargs, False))
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", param)


async def test_drop_params_never_drops_tools_or_structured_output(aclient):
    # Anthropic takes structured output as a forced tool: not with tools of the caller's own.
    with pytest.raises(openai.BadRequestError) as caught:
        await aclient.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=ASK,
            tools=TOOLS,
            response_format={"type": "json_object"},
            extra_body={"drop_params": True},
        )
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", "response_format")


@pytest.mark.parametrize("model", TARGETS)
async def test_an_image_url(aclient, model):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                },
            ],
        }
    ]
    if TARGETS[model] == "gemini":  # Gemini fetches no URLs: refused, naming it
        with pytest.raises(openai.BadRequestError) as caught:
            await aclient.chat.completions.create(model=model, messages=messages)
        assert (caught.value.code, caught.value.param) == ("unsupported_parameter", "image_url")
        assert "data URL" in caught.value.message
        return
    completion = await aclient.chat.completions.create(model=model, messages=messages)
    assert completion.choices[0].message.content == reply(model)


# Not on Gemini: the fake Gemini answers JSON only for a schema (responseMimeType alone gets
# the default text), unlike the real one.
@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-sonnet-4-5"])
async def test_json_object(aclient, model):
    completion = await aclient.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "The weather in Paris, as a JSON object."}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(completion.choices[0].message.content), dict)


async def test_prompt_caching_on_a_claude_target(aclient, fake_upstream):
    """``cache_control`` as LiteLLM and OpenRouter take it in OpenAI bodies reaches Claude; the
    writes and reads come back in ``prompt_tokens_details`` and the ledger."""
    document = "a very long system prompt " * 20
    system = {
        "role": "system",
        "content": [{"type": "text", "text": document, "cache_control": {"type": "ephemeral"}}],
    }
    first = await aclient.chat.completions.create(
        model="claude-sonnet-4-5", messages=[system, {"role": "user", "content": "One?"}]
    )
    second = await aclient.chat.completions.create(
        model="claude-sonnet-4-5", messages=[system, {"role": "user", "content": "Two?"}]
    )
    sent = [r.body for r in fake_upstream.requests if r.path == "/v1/messages"]
    assert sent[0]["system"] == [
        {"type": "text", "text": document, "cache_control": {"type": "ephemeral"}}
    ]
    cached = fake_prompt_tokens([document])
    assert first.usage.prompt_tokens == cached + 1
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage.prompt_tokens_details.cached_tokens == cached
    rows = await ledger_rows(2)
    assert [row.cached_tokens for row in rows] == [0, cached]
    assert rows[0].cost > rows[1].cost  # the write at 1.25x input, the read at the cached price
