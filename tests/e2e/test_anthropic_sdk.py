"""The official anthropic SDK, sync (``anthropic.Anthropic``) and async
(``anthropic.AsyncAnthropic``), against the gateway under its real ASGI server, each upstream
provider's real SDK talking to the fake upstream: text, streams (raw events and the SDK's
``messages.stream`` helper), a full tool round trip on Claude and on translated targets,
count_tokens, and the exception class the SDK raises for each error status. Every message
leaves one ledger row with its usage, under the ``request-id`` the SDK reads."""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal

import anthropic
import pytest
from asgiref.sync import sync_to_async

from ai.models import ApiKey
from tests.e2e.conftest import assert_rows_have_usage, ledger_rows
from tests.fake_upstream import fake_prompt_tokens, reply_deltas
from tests.fake_upstream.scenario import fake_arguments, tool_reply

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINT = "anthropic_messages"
#: model asked for -> the vendor whose wire it goes over (and whose fake answers).
TARGETS = {
    "claude-haiku-4-5": "anthropic",
    "gpt-4o-mini": "openai",
    "gemini-2.5-flash": "gemini",
}
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}
TOOLS = [{"name": "get_weather", "description": "The weather in a city.", "input_schema": WEATHER}]
SYSTEM = "Use the tools."
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
RESULT = "sunny, 21 C"


def base_url(live) -> str:
    return f"{live.url}/api/v1/anthropic"


def sync_client(live, api_key: str) -> anthropic.Anthropic:
    # No SDK retries: every failure reaches the test as the gateway answered it.
    return anthropic.Anthropic(api_key=api_key, base_url=base_url(live), max_retries=0, timeout=10)


def async_client(live, api_key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key=api_key, base_url=base_url(live), max_retries=0, timeout=10
    )


@pytest.fixture
async def aclient(live, token):
    """``api_key`` = the user's JWT: the SDK sends it as ``x-api-key``."""
    async with async_client(live, token) as client:
        yield client


def reply(model: str) -> str:
    return "".join(reply_deltas(TARGETS[model], model, 5))


def request_id(message: anthropic.types.Message) -> str:
    assert message.id.startswith("msg_")
    return message.id.removeprefix("msg_")


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", TARGETS)
async def test_async_create_stream_and_stream_helper(aclient, model):
    say = [{"role": "user", "content": "Say hello."}]
    message = await aclient.messages.create(
        model=model, max_tokens=256, system="Be brief.", messages=say
    )
    assert message._request_id == request_id(message)  # the request-id header
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == reply(model)
    assert message.stop_reason == "end_turn"
    assert message.model.startswith(model)  # Gemini reports a version: "...-001"
    prompt = fake_prompt_tokens(["Be brief.", "Say hello."])
    assert (message.usage.input_tokens, message.usage.output_tokens) == (prompt, 5)

    stream = await aclient.messages.create(model=model, max_tokens=256, messages=say, stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == reply(model)
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == 5
    streamed_id = stream.response.headers["request-id"]

    async with aclient.messages.stream(model=model, max_tokens=256, messages=say) as helper:
        text = "".join([piece async for piece in helper.text_stream])
        final = await helper.get_final_message()
    assert text == final.content[0].text == reply(model)
    assert final.usage.input_tokens == fake_prompt_tokens(["Say hello."])  # message_delta's
    assert final.usage.output_tokens == 5 and final.stop_reason == "end_turn"

    ids = [request_id(message), streamed_id, request_id(final)]
    found = await ledger_rows(3)
    assert_rows_have_usage(found, ids, TARGETS[model], ENDPOINT)
    assert [row.streamed for row in found] == [False, True, True]
    assert found[0].prompt_tokens == prompt


@pytest.mark.parametrize("model", TARGETS)
async def test_sync_create_and_stream_helper(live, token, model):
    def run() -> list[str]:
        with sync_client(live, token) as client:
            message = client.messages.create(model=model, max_tokens=64, messages=ASK)
            assert message.content[0].text == reply(model)
            with client.messages.stream(model=model, max_tokens=64, messages=ASK) as stream:
                final = stream.get_final_message()
            assert final.content[0].text == reply(model)
            return [request_id(message), request_id(final)]

    request_ids = await asyncio.to_thread(run)
    assert_rows_have_usage(await ledger_rows(2), request_ids, TARGETS[model], ENDPOINT)


# --- tools ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", TARGETS)
async def test_async_tool_round_trip(aclient, model):
    first = await aclient.messages.create(
        model=model, max_tokens=256, system=SYSTEM, messages=ASK, tools=TOOLS
    )
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.id and call.name == "get_weather"
    assert call.input == fake_arguments(WEATHER)

    # The SDK's own content blocks go back as they are, as applications do.
    messages = [
        *ASK,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": RESULT}],
        },
    ]
    final = await aclient.messages.create(
        model=model, max_tokens=256, system=SYSTEM, messages=messages, tools=TOOLS
    )
    assert final.stop_reason == "end_turn"
    assert [block.type for block in final.content] == ["text"]
    assert final.content[0].text == tool_reply(RESULT)
    assert_rows_have_usage(
        await ledger_rows(2), [request_id(first), request_id(final)], TARGETS[model], ENDPOINT
    )


@pytest.mark.parametrize("model", TARGETS)
async def test_sync_stream_helper_tool_round_trip(live, token, model):
    def run() -> list[str]:
        with sync_client(live, token) as client:
            with client.messages.stream(
                model=model,
                max_tokens=256,
                messages=ASK,
                tools=TOOLS,
                tool_choice={"type": "tool", "name": "get_weather"},
            ) as stream:
                kinds = [event.type for event in stream]
                first = stream.get_final_message()
            assert "input_json" in kinds  # the helper's event for an input_json_delta
            assert first.stop_reason == "tool_use"
            [call] = first.content
            assert call.type == "tool_use" and call.input == fake_arguments(WEATHER)

            messages = [
                *ASK,
                {"role": "assistant", "content": first.content},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": RESULT}],
                },
            ]
            with client.messages.stream(
                model=model, max_tokens=256, messages=messages, tools=TOOLS
            ) as stream:
                final = stream.get_final_message()
            assert final.content[0].text == tool_reply(RESULT)
            return [request_id(first), request_id(final)]

    request_ids = await asyncio.to_thread(run)
    assert_rows_have_usage(await ledger_rows(2), request_ids, TARGETS[model], ENDPOINT)


async def test_two_streamed_tool_calls_are_two_blocks(aclient):
    """OpenAI's streamed tool-call deltas become two tool_use blocks with their own indexes,
    reassembled by the SDK's helper."""
    tools = [*TOOLS, {"name": "get_time", "input_schema": {"type": "object"}}]
    async with aclient.messages.stream(
        model="gpt-4o-mini",
        max_tokens=256,
        messages=[{"role": "user", "content": "Weather and time? [[fake:tool_calls=2]]"}],
        tools=tools,
    ) as stream:
        final = await stream.get_final_message()
    assert [(b.type, b.name) for b in final.content] == [
        ("tool_use", "get_weather"),
        ("tool_use", "get_time"),
    ]
    assert [b.input for b in final.content] == [fake_arguments(WEATHER), {}]
    assert final.stop_reason == "tool_use"


# --- count_tokens ---------------------------------------------------------------------------


async def test_count_tokens(aclient):
    counted = await aclient.messages.count_tokens(
        model="claude-haiku-4-5", system="Be brief.", messages=ASK
    )
    assert counted.input_tokens == fake_prompt_tokens(["Be brief.", ASK[0]["content"]])
    assert "estimated" not in counted.model_dump()

    estimated = await aclient.messages.count_tokens(
        model="gpt-4o-mini", system="Be brief.", messages=ASK, tools=TOOLS
    )
    assert estimated.input_tokens > 0
    assert estimated.model_dump()["estimated"] is True
    assert await ledger_rows(0) == []  # counting generates nothing: no ledger row


# --- errors: the SDK raises its own class for each status -----------------------------------


async def test_bad_request_names_the_field(aclient):
    with pytest.raises(anthropic.BadRequestError) as caught:
        await aclient.messages.create(
            model="claude-haiku-4-5",
            max_tokens=256,
            messages=ASK,
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
    error = caught.value
    assert error.status_code == 400 and error.type == "invalid_request_error"
    assert error.body["error"]["fields"].keys() == {"thinking"}
    assert error.request_id == error.body["request_id"]


async def test_authentication_error(live):
    async with async_client(live, "aig_nokey123_" + "x" * 40) as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=ASK)
    assert caught.value.status_code == 401
    assert caught.value.type == "authentication_error"


async def test_a_key_works_and_is_refused_a_model_it_does_not_allow(live, user):
    _key, full_key = await sync_to_async(ApiKey.issue)(
        user, "only gemini", allowed_models=["gemini/*"]
    )
    async with async_client(live, full_key) as client:
        allowed = await client.messages.create(
            model="gemini-2.5-flash", max_tokens=64, messages=ASK
        )
        assert allowed.content[0].text == reply("gemini-2.5-flash")
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            await client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=ASK)
    assert caught.value.status_code == 403
    assert caught.value.type == "permission_error"


async def test_unknown_model_is_not_found(aclient):
    with pytest.raises(anthropic.NotFoundError) as caught:
        await aclient.messages.create(model="no-such-model", max_tokens=9, messages=ASK)
    assert (caught.value.status_code, caught.value.type) == (404, "not_found_error")


async def test_upstream_rate_limit(aclient):
    with pytest.raises(anthropic.RateLimitError) as caught:
        await aclient.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "[[fake:status=429 retry_after=3]]"}],
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    [row] = await ledger_rows(1)
    assert (row.status, row.endpoint) == ("error", ENDPOINT)
    assert row.request_id == caught.value.request_id


@pytest.mark.parametrize(("upstream", "status"), [(500, 503), (529, 503)])
async def test_upstream_failure_is_an_internal_server_error(aclient, upstream, status):
    with pytest.raises(anthropic.InternalServerError) as caught:
        await aclient.messages.create(
            model="gpt-4o-mini",
            max_tokens=64,
            messages=[{"role": "user", "content": f"[[fake:status={upstream}]]"}],
        )
    assert caught.value.status_code == status
    assert caught.value.type == "overloaded_error"
    [row] = await ledger_rows(1)
    assert row.status == "error" and row.request_id == caught.value.request_id


async def test_failure_mid_stream_raises_while_iterating(aclient):
    stream = await aclient.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "[[fake:chunks=10 drop_after=3]]"}],
        stream=True,
    )
    texts: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async for event in stream:
            if event.type == "content_block_delta":
                texts.append(event.delta.text)
    assert len(texts) == 3
    assert caught.value.body["error"]["code"] == "upstream_connection_error"
    [row] = await ledger_rows(1)
    assert (row.status, row.streamed, row.endpoint) == ("error", True, ENDPOINT)
    assert row.completion_tokens > 0


# --- what a target cannot honour ------------------------------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


@pytest.mark.parametrize("model", TARGETS)
async def test_an_inline_image_reaches_every_target(aclient, model):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    message = await aclient.messages.create(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is it?"}]}],
    )
    assert message.content[0].text == reply(model)


async def test_an_option_a_target_lacks_is_a_bad_request_naming_it(aclient):
    # anthropic 2.x has no top_k (nor temperature) argument: the body still takes it.
    claude = await aclient.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=ASK, extra_body={"top_k": 5}
    )
    assert claude.content[0].text == reply("claude-haiku-4-5")
    with pytest.raises(anthropic.BadRequestError) as caught:
        await aclient.messages.create(
            model="gpt-4o-mini", max_tokens=64, messages=ASK, extra_body={"top_k": 5}
        )
    error = caught.value.body["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "unsupported_parameter")
    assert error["fields"].keys() == {"top_k"} and "openai" in error["message"]


async def test_a_claude_target_gets_the_request_as_sent(aclient, fake_upstream):
    await aclient.messages.create(
        model="claude-haiku-4-5",
        max_tokens=77,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=ASK,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        metadata={"user_id": "user-7"},
        extra_body={"temperature": 0.5, "top_k": 5, "top_p": 0.9},
    )
    [sent] = [r.body for r in fake_upstream.requests if r.path == "/v1/messages"]
    assert sent["model"] == "claude-haiku-4-5" and sent["max_tokens"] == 77
    # The breakpoint is forwarded as it was set.
    assert sent["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent["tools"] == [{**TOOLS[0]}]
    assert sent["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert sent["stop_sequences"] == ["END"]
    assert sent["metadata"] == {"user_id": "user-7"}
    assert (sent["temperature"], sent["top_k"], sent["top_p"]) == (0.5, 5, 0.9)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_prompt_caching_writes_then_reads_and_is_priced(aclient, fake_upstream, stream):
    """A Claude target caches up to the caller's breakpoint: the first request writes (priced
    at 1.25x input), the next reads (at the cached price); usage in Anthropic's fields, and the
    ledger's cost, say so. A translated target gets no breakpoint and writes nothing."""
    from ai.usage.pricing import aget_price_book

    document = "the terms of the contract " * 30
    system = [{"type": "text", "text": document, "cache_control": {"type": "ephemeral"}}]

    async def ask(model: str, question: str) -> anthropic.types.Usage:
        say = [{"role": "user", "content": question}]
        if not stream:
            message = await aclient.messages.create(
                model=model, max_tokens=64, system=system, messages=say
            )
            return message.usage
        async with aclient.messages.stream(
            model=model, max_tokens=64, system=system, messages=say
        ) as helper:
            return (await helper.get_final_message()).usage

    first = await ask("claude-haiku-4-5", "Summarise.")
    second = await ask("claude-haiku-4-5", "Any penalties?")
    other = await ask("gpt-4o-mini", "Summarise.")

    cached = fake_prompt_tokens([document])
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (cached, 0)
    assert first.input_tokens == fake_prompt_tokens(["Summarise."])
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, cached)
    assert (other.cache_creation_input_tokens, other.cache_read_input_tokens) == (0, 0)
    claude, _ = [r.body for r in fake_upstream.requests if r.path == "/v1/messages"]
    assert claude["system"] == system

    rows = await ledger_rows(3)
    price = (await aget_price_book()).price_at("anthropic", "claude-haiku-4-5")
    assert price is not None
    million = Decimal(1_000_000)
    fresh = fake_prompt_tokens(["Summarise."]) * price.input
    output = rows[0].completion_tokens * price.output
    written = cached * price.input * Decimal("1.25")
    assert rows[0].cost == ((fresh + written + output) / million).quantize(rows[0].cost)
    assert rows[0].prompt_tokens == cached + fake_prompt_tokens(["Summarise."])
    assert [row.cache_write_tokens for row in rows] == [cached, 0, 0]
    assert rows[1].cached_tokens == cached and rows[1].cost < rows[0].cost


# --- routes and the gateway's own limits ----------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_routes_are_models(aclient, stream):
    ids = []
    for route in ("simple", "auto"):
        if stream:
            async with aclient.messages.stream(
                model=route, max_tokens=64, messages=[{"role": "user", "content": "Hi."}]
            ) as helper:
                message = await helper.get_final_message()
        else:
            message = await aclient.messages.create(
                model=route, max_tokens=64, messages=[{"role": "user", "content": "Hi."}]
            )
        assert message.content[0].text
        ids.append(request_id(message))
    found = await ledger_rows(2)
    assert [row.request_id for row in found] == ids
    assert found[0].complexity == "simple" and found[1].complexity  # "auto": what it classified
    assert all(row.status == "ok" and row.total_tokens > 0 for row in found)


async def test_the_gateways_own_rate_limit(live, user):
    _key, full_key = await sync_to_async(ApiKey.issue)(user, "one a minute", rpm=1)
    async with async_client(live, full_key) as client:
        await client.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=ASK)
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=ASK)
    assert caught.value.type == "rate_limit_error"
    assert caught.value.body["error"]["code"] == "rate_limit_exceeded"
    assert int(caught.value.response.headers["retry-after"]) > 0


@pytest.mark.parametrize("stream", [False, True])
async def test_a_stop_sequence_is_named_on_a_claude_target(aclient, stream):
    """Anthropic says which stop sequence ended the answer: the SDK gets it back, streamed
    or not; another target's stop on a sequence is an ordinary end_turn."""
    ask = [{"role": "user", "content": "count [[fake:finish=stop_sequence]]"}]
    kwargs = {"model": "claude-haiku-4-5", "max_tokens": 50, "stop_sequences": ["END"]}
    if stream:
        async with aclient.messages.stream(messages=ask, **kwargs) as events:
            message = await events.get_final_message()
    else:
        message = await aclient.messages.create(messages=ask, **kwargs)
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    plain = await aclient.messages.create(messages=[{"role": "user", "content": "count"}], **kwargs)
    assert (plain.stop_reason, plain.stop_sequence) == ("end_turn", None)
