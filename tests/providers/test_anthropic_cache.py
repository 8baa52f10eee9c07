"""Prompt caching on Anthropic's wire: the core's ``cache`` marks become ``cache_control``
breakpoints where they were set, through the official SDK against the fake upstream (which
writes and reads its cache as Anthropic does: ``tests/fake_upstream/anthropic_cache.py``), and
the writes come back in the usage, priced above input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ai.exceptions import UpstreamBadRequestError
from ai.providers.base import Message, Role
from ai.providers.messages import Usage
from ai.providers.parts import ChatOptions, ImagePart, TextPart, Tool, ToolCall
from ai.usage.pricing import Price
from tests.fake_upstream import fake_prompt_tokens

MODEL = "claude-test"
PNG = "iVBORw0KGgo="
DOC = "a long document " * 20
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture
async def provider(upstream_settings, transport):
    from tests.providers.conftest import open_provider

    async with open_provider("anthropic") as provider:
        yield provider


def marked_conversation(question: str = "What does it say?") -> list[Message]:
    return [
        Message(Role.SYSTEM, "Rules.", cache="1h"),
        Message(Role.SYSTEM, "Be brief."),
        Message.of_parts(
            Role.USER,
            [TextPart(DOC, cache="5m"), ImagePart(data=PNG, media_type="image/png")],
        ),
        Message(Role.ASSISTANT, "Checking.", tool_calls=(ToolCall("toolu_1", "look", "{}"),)),
        Message(Role.TOOL, "found it", tool_call_id="toolu_1", name="look", cache="5m"),
        Message(Role.USER, question),
    ]


# Tools come first on the wire, and an hour-long breakpoint may not follow a five-minute one.
OPTIONS = ChatOptions(tools=(Tool("look", "Look it up.", {"type": "object"}, cache="1h"),))
HOUR = {"type": "ephemeral", "ttl": "1h"}


async def test_breakpoints_go_where_they_were_set(provider, fake_upstream):
    await provider.complete(marked_conversation(), model=MODEL, options=OPTIONS)

    [captured] = fake_upstream.requests
    body = captured.body
    assert body["system"] == [
        {"type": "text", "text": "Rules.", "cache_control": HOUR},
        {"type": "text", "text": "Be brief."},
    ]
    assert body["tools"] == [
        {
            "name": "look",
            "description": "Look it up.",
            "input_schema": {"type": "object"},
            "cache_control": HOUR,
        }
    ]
    user, assistant, result = body["messages"][:3]
    assert user["content"] == [
        {"type": "text", "text": DOC, "cache_control": EPHEMERAL},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    assert "cache_control" not in str(assistant)
    # The tool result's turn carries it; the next user text merges into that turn, unmarked.
    assert result["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": "found it",
            "cache_control": EPHEMERAL,
        },
        {"type": "text", "text": "What does it say?"},
    ]


async def test_a_turn_breakpoint_marks_its_last_block(provider, fake_upstream):
    messages = [
        Message(Role.USER, "Hi there", cache="1h"),
        Message(Role.ASSISTANT, "Calling.", tool_calls=(ToolCall("t1", "look", "{}"),), cache="5m"),
        Message(Role.TOOL, "ok", tool_call_id="t1", name="look"),
    ]
    await provider.complete(messages, model=MODEL, options=OPTIONS)
    [captured] = fake_upstream.requests
    first, second, _ = captured.body["messages"]
    assert first["content"] == [{"type": "text", "text": "Hi there", "cache_control": HOUR}]
    assert [block.get("cache_control") for block in second["content"]] == [None, EPHEMERAL]


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_the_first_call_writes_the_next_reads(provider, fake_upstream, streamed):
    async def usage(question: str) -> Usage:
        messages = marked_conversation(question)
        if not streamed:
            return (await provider.complete(messages, model=MODEL, options=OPTIONS)).usage
        stream = provider.stream(messages, model=MODEL, options=OPTIONS)
        async for _ in stream:
            pass
        return stream.response.usage

    first = await usage("What does it say?")
    second = await usage("And in short?")  # same prefix up to the last breakpoint

    prefix = fake_prompt_tokens(["Rules.", "Be brief.", DOC, "Checking.", "found it"])
    hour = fake_prompt_tokens(["Rules."])
    assert first.prompt_tokens == prefix + fake_prompt_tokens(["What does it say?"])
    assert (first.cache_write_tokens, first.cache_write_1h_tokens, first.cached_tokens) == (
        prefix,
        hour,
        0,
    )
    assert (second.cache_write_tokens, second.cached_tokens) == (0, prefix)
    assert second.prompt_tokens == prefix + fake_prompt_tokens(["And in short?"])


async def test_a_breakpoint_anthropic_refuses_is_a_bad_request(provider):
    messages = [Message(Role.USER, f"part {i}", cache="5m") for i in range(5)]
    with pytest.raises(UpstreamBadRequestError) as caught:
        await provider.complete(messages, model=MODEL)
    assert "A maximum of 4 blocks with cache_control" in str(caught.value)


def test_writes_cost_more_than_input_and_reads_less():
    price = Price(Decimal(3), Decimal(15), Decimal("0.30"), datetime(2025, 1, 1, tzinfo=UTC))
    million = 1_000_000
    assert price.cost(Usage.of(million, 0)) == Decimal(3)
    assert price.cost(Usage.of(million, 0, cache_write=million)) == Decimal("3.75")
    hour = Usage.of(million, 0, cache_write=million, cache_write_1h=million // 2)
    assert price.cost(hour) == Decimal("4.875")  # half at 1.25x, half at 2x
    mixed = Usage.of(million, 0, cached=million // 2, cache_write=million // 4)
    assert price.cost(mixed) == Decimal("0.15") + Decimal("0.9375") + Decimal("0.75")
    # Counts that overlap more than the prompt are clamped to it.
    assert price.cost(Usage.of(100, 0, cached=80, cache_write=80)) == price.cost(
        Usage.of(100, 0, cached=80, cache_write=20)
    )


async def test_a_mark_on_a_dropped_empty_block_moves_to_the_one_before(provider, fake_upstream):
    """Anthropic refuses empty text blocks; a breakpoint on one is not lost with it, and a
    turn's breakpoint does not overwrite the one its last block already has."""
    image = ImagePart(data=PNG, media_type="image/png")
    messages = [
        Message.of_parts(Role.USER, [image, TextPart("", cache="1h")]),
        Message(Role.ASSISTANT, "ok"),
        Message.of_parts(Role.USER, [TextPart("again", cache="1h")], cache="5m"),
    ]
    await provider.complete(messages, model=MODEL)
    [captured] = fake_upstream.requests
    first, _, last = captured.body["messages"]
    assert [b["type"] for b in first["content"]] == ["image"]
    assert first["content"][0]["cache_control"] == HOUR
    assert last["content"] == [{"type": "text", "text": "again", "cache_control": HOUR}]


@pytest.mark.parametrize("vendor", ["openai", "gemini"])
async def test_other_vendors_get_the_plain_text(upstream_settings, fake_upstream, vendor):
    """Text parts kept apart only for their breakpoints go to a vendor without breakpoints as
    the one text they are, as an unmarked turn would."""
    from tests.providers.conftest import open_provider

    marked = Message.of_parts(Role.USER, [TextPart(DOC, cache="5m"), TextPart("What?")])
    plain = Message.of_parts(Role.USER, [TextPart(DOC), TextPart("What?")])
    async with open_provider(vendor) as provider:
        await provider.complete([marked])
        await provider.complete([plain])
    sent_marked, sent_plain = (r.body for r in fake_upstream.requests)
    assert sent_marked == sent_plain
    assert "cache_control" not in str(sent_marked)
