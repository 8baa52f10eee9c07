"""The Responses API judged by the official openai SDK: ``client.responses.create`` (JSON and
``stream=True``), ``client.responses.stream`` and ``client.responses.parse`` against the gateway
under its real ASGI server, each upstream provider's real SDK talking to the fake upstream in its
vendor's wire; the ledger rows are the real ledger's."""

from __future__ import annotations

import asyncio
import base64
import json

import openai
import pytest
from asgiref.sync import sync_to_async
from pydantic import BaseModel

from ai.models import ApiKey
from tests.e2e.conftest import ledger_rows
from tests.fake_upstream import fake_prompt_tokens, reply_deltas
from tests.fake_upstream.scenario import fake_arguments, tool_reply

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINT = "openai_responses"
#: (model as the client names it, provider, the model the fake says it serves)
TARGETS = [
    pytest.param("gpt-4o-mini", "openai", "gpt-4o-mini", id="openai"),
    pytest.param("claude-haiku-4-5", "anthropic", "claude-haiku-4-5", id="anthropic"),
    pytest.param("gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash", id="gemini"),
]
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": WEATHER,
    "strict": True,
}
CLOCK_TOOL = {
    "type": "function",
    "name": "get_time",
    "description": "The time in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}
INSTRUCTIONS = "Be brief."
PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


def _client(live, token: str) -> openai.AsyncOpenAI:
    # No SDK retries: every failure reaches the test as the gateway answered it.
    return openai.AsyncOpenAI(
        api_key=token, base_url=f"{live.url}/api/v1/openai", max_retries=0, timeout=10
    )


@pytest.fixture
async def client(live, token):
    async with _client(live, token) as sdk:
        yield sdk


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_create_text(client, model, provider, served):
    text = "tell me about Paris [[fake:cached=2]]"
    response = await client.responses.create(model=model, input=text, instructions=INSTRUCTIONS)

    request_id = response._request_id
    assert response.id == f"resp_{request_id}"
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "".join(reply_deltas(provider, served, 5))
    assert response.model.startswith(served)  # Gemini reports a version: "-001"
    assert response.instructions == INSTRUCTIONS
    prompt = fake_prompt_tokens([INSTRUCTIONS, text])
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens) == (prompt, 5)
    assert usage.total_tokens == prompt + 5
    assert usage.input_tokens_details.cached_tokens == 2

    [row] = await ledger_rows(1)
    assert (row.endpoint, row.provider, row.status, row.streamed) == (
        ENDPOINT,
        provider,
        "ok",
        False,
    )
    assert row.request_id == request_id
    assert (row.prompt_tokens, row.completion_tokens) == (prompt, 5)
    assert row.cost is not None and row.cost > 0


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_an_image_in_the_input(client, model, provider, served):
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [
        {"type": "input_text", "text": "What is in this picture?"},
        {"type": "input_image", "image_url": image, "detail": "auto"},
    ]
    response = await client.responses.create(
        model=model, input=[{"role": "user", "content": content}]
    )
    assert response.output_text == "".join(reply_deltas(provider, served, 5))
    # The fake counts the words of the text parts.
    assert response.usage.input_tokens == fake_prompt_tokens(["What is in this picture?"])


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_function_call_round_trip(client, model, provider, served):
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = await client.responses.create(model=model, input=[question], tools=[WEATHER_TOOL])

    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.status == "completed"
    assert json.loads(call.arguments) == fake_arguments(WEATHER)
    assert call.call_id
    assert first.output_text == ""
    assert first.tools[0].name == "get_weather"

    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    # The answer's items given back as they are, as OpenAI's guide does (input += output).
    final = await client.responses.create(
        model=model, input=[question, *first.output, result], tools=[WEATHER_TOOL]
    )
    assert final.output_text == tool_reply("sunny")
    assert [item.type for item in final.output] == ["message"]
    first_row, final_row = await ledger_rows(2)
    assert first_row.provider == final_row.provider == provider
    assert final_row.completion_tokens > 0


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_stream_helper_with_a_function_tool(client, model, provider, served):
    async with client.responses.stream(
        model=model, input="Weather in Paris?", tools=[WEATHER_TOOL]
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()

    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    arguments = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert arguments
    # The helper's running snapshot ends with the whole arguments.
    assert json.loads(arguments[-1].snapshot) == fake_arguments(WEATHER)
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done.arguments) == fake_arguments(WEATHER)
    [call] = [item for item in final.output if item.type == "function_call"]
    assert call.arguments == done.arguments and call.name == "get_weather"
    # The strict tool's arguments, parsed by the helper.
    assert call.parsed_arguments == fake_arguments(WEATHER)
    assert final.usage.output_tokens > 0
    [row] = await ledger_rows(1)
    assert (row.endpoint, row.status, row.streamed) == (ENDPOINT, "ok", True)
    assert row.completion_tokens == final.usage.output_tokens


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_parallel_calls_streamed_then_answered(client, model, provider, served):
    question = {"role": "user", "content": "Weather and time in Paris? [[fake:tool_calls=2]]"}
    async with client.responses.stream(
        model=model, input=[question], tools=[WEATHER_TOOL, CLOCK_TOOL]
    ) as stream:
        events = [event async for event in stream]
        first = await stream.get_final_response()

    calls = [item for item in first.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["get_weather", "get_time"]
    assert len({call.call_id for call in calls}) == 2
    added = [e for e in events if e.type == "response.output_item.added"]
    done = [e for e in events if e.type == "response.output_item.done"]
    assert [e.output_index for e in added] == [e.output_index for e in done] == [0, 1]
    # One item after the other: the first is done before the second is added.
    kinds = [(e.type, getattr(e, "output_index", None)) for e in events]
    assert kinds.index(("response.output_item.done", 0)) < kinds.index(
        ("response.output_item.added", 1)
    )
    results = [
        {"type": "function_call_output", "call_id": call.call_id, "output": answer}
        for call, answer in zip(calls, ("sunny", "noon"), strict=True)
    ]
    final = await client.responses.create(
        model=model, input=[question, *first.output, *results], tools=[WEATHER_TOOL, CLOCK_TOOL]
    )
    assert final.output_text.startswith(tool_reply(""))
    assert "noon" in final.output_text


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_stream_helper_text(client, model, provider, served):
    async with client.responses.stream(
        model=model, input="tell me [[fake:chunks=7]]", instructions=INSTRUCTIONS
    ) as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()

    expected = "".join(reply_deltas(provider, served, 7))
    assert len(deltas) == 7 and "".join(deltas) == expected
    assert final.output_text == expected
    assert final.usage.output_tokens == 7
    prompt = fake_prompt_tokens([INSTRUCTIONS, "tell me [[fake:chunks=7]]"])
    assert final.usage.input_tokens == prompt
    [row] = await ledger_rows(1)
    assert (row.endpoint, row.completion_tokens, row.streamed) == (ENDPOINT, 7, True)
    assert row.prompt_tokens == prompt and row.cost is not None and row.cost > 0
    assert row.request_id == final.id.removeprefix("resp_")


async def test_create_with_stream_true(client):
    stream = await client.responses.create(model="gpt-4o-mini", input="hi there", stream=True)
    events = [event async for event in stream]
    request_id = stream.response.headers["x-request-id"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "".join(reply_deltas("openai", "gpt-4o-mini", 5))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.id == f"resp_{request_id}"
    assert completed.response.output_text == text
    assert completed.response.usage.output_tokens == 5
    [row] = await ledger_rows(1)
    assert (row.request_id, row.streamed, row.completion_tokens) == (request_id, True, 5)


async def test_sync_client_stream_helper(live, token):
    def run() -> tuple[list[str], str]:
        sdk = openai.OpenAI(
            api_key=token, base_url=f"{live.url}/api/v1/openai", max_retries=0, timeout=10
        )
        with sdk, sdk.responses.stream(model="gpt-4o-mini", input="hello") as stream:
            kinds = [event.type for event in stream]
            return kinds, stream.get_final_response().output_text

    kinds, text = await asyncio.to_thread(run)
    assert kinds[-1] == "response.completed"
    assert text == "".join(reply_deltas("openai", "gpt-4o-mini", 5))


class Weather(BaseModel):
    city: str


async def test_parse_with_a_json_schema(client):
    parsed = await client.responses.parse(
        model="gpt-4o-mini", input="Weather as JSON", text_format=Weather
    )
    assert parsed.output_parsed == Weather(city="Paris")


async def test_mid_stream_failure_ends_with_error_and_response_failed(client):
    async with client.responses.stream(
        model="gpt-4o-mini", input="[[fake:chunks=10 drop_after=3]]"
    ) as stream:
        events = [event async for event in stream]
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            await stream.get_final_response()

    kinds = [event.type for event in events]
    assert kinds[-2:] == ["error", "response.failed"]
    assert kinds.count("response.output_text.delta") == 3
    error, failed = events[-2:]
    assert error.code == "upstream_connection_error"
    assert failed.response.status == "failed" and failed.response.error.code == "server_error"
    assert failed.response.output[0].status == "incomplete"
    [row] = await ledger_rows(1)
    assert (row.status, row.error_code) == ("error", "upstream_connection_error")
    assert row.streamed
    assert row.completion_tokens > 0


async def test_previous_response_id_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="gpt-4o-mini", input="and then?", previous_response_id="resp_123"
        )
    error = caught.value
    assert error.status_code == 400
    assert error.param == "previous_response_id" and error.type == "invalid_request_error"
    assert "does not store responses" in error.message
    with pytest.raises(openai.BadRequestError):
        async with client.responses.stream(
            model="gpt-4o-mini", input="and then?", previous_response_id="resp_123"
        ):
            pass
    await ledger_rows(0)


@pytest.mark.parametrize(("model", "provider", "served"), TARGETS)
async def test_reasoning_effort(client, fake_upstream, model, provider, served):
    response = await client.responses.create(
        model=model, input="Why is the sky blue?", reasoning={"effort": "medium"}
    )
    assert response.reasoning.effort == "medium"  # echoed, as OpenAI does
    assert response.output_text == "".join(reply_deltas(provider, served, 5))
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    body = fake_upstream.requests[-1].body
    sent = {
        "openai": lambda: body["reasoning_effort"],
        "anthropic": lambda: body["thinking"]["budget_tokens"],
        "gemini": lambda: body["generationConfig"]["thinkingConfig"]["thinkingBudget"],
    }[provider]()
    assert sent == ("medium" if provider == "openai" else 8192)


async def test_reasoning_summaries_are_refused_naming_the_field(client):
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="gpt-4o-mini", input="hi", reasoning={"effort": "low", "summary": "auto"}
        )
    assert caught.value.param == "reasoning.summary"


async def test_an_option_the_target_cannot_honour_is_named_as_sent(client):
    """Anthropic gets structured output through a forced tool: not with tools of the caller's
    own. The 400 names ``text.format``, as the request did."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="claude-haiku-4-5",
            input="Weather?",
            tools=[WEATHER_TOOL],
            text={"format": {"type": "json_object"}},
        )
    assert caught.value.param == "text.format"
    assert caught.value.code == "unsupported_parameter"


async def test_errors_are_the_sdks_classes(live, client):
    async with _client(live, "not-a-token") as anonymous:
        with pytest.raises(openai.AuthenticationError):
            await anonymous.responses.create(model="gpt-4o-mini", input="hi")
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(model="no-such-model", input="hi")
    with pytest.raises(openai.RateLimitError) as caught:
        await client.responses.create(
            model="gpt-4o-mini", input="[[fake:status=429 retry_after=7]]"
        )
    assert caught.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError):
        await client.responses.create(model="gpt-4o-mini", input="[[fake:status=500]]")


async def test_a_gateway_api_key_works_and_is_on_the_ledger(live, user):
    key, secret = await sync_to_async(ApiKey.issue)(user, "responses client")
    async with _client(live, secret) as sdk:
        response = await sdk.responses.create(model="gpt-4o-mini", input="hi")
    assert response.output_text
    [row] = await ledger_rows(1)
    assert (row.api_key_id, row.user_id, row.endpoint) == (key.pk, user.pk, ENDPOINT)
