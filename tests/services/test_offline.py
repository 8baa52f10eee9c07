import asyncio

from ai.providers.offline import OfflineProvider
from ai.services import Message, Role


async def test_complete_is_deterministic_and_counts_usage():
    provider = OfflineProvider()
    first = await provider.complete_simple("hello world", system="be brief", model="m1")
    second = await provider.complete_simple("hello world", system="be brief", model="m1")
    assert first.content == second.content == "[offline:m1] You said: hello world"
    assert first.provider == "offline"
    # one token a word (+1 a message): "be brief" (2+1) + "hello world" (2+1)
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (6, 5)
    assert first.usage.total_tokens == 11
    assert first.finish_reason == "stop"


async def test_stream_yields_the_same_content_and_usage_at_the_end():
    provider = OfflineProvider()
    messages = [Message(Role.USER, "a b c")]
    whole = await provider.complete(messages)
    stream = provider.stream(messages)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 1
    assert "".join(chunks) == whole.content
    assert stream.completed
    assert stream.response.usage == whole.usage


async def test_max_tokens_truncates_and_reports_length():
    response = await OfflineProvider().complete_simple("one two three four", max_tokens=3)
    assert response.content.split() == ["[offline:offline-echo]", "You", "said:"]
    assert response.finish_reason == "length"


async def test_delay_setting_is_honoured(settings):
    settings.AI_OFFLINE_DELAY_MS = 50
    loop = asyncio.get_running_loop()
    started = loop.time()
    await OfflineProvider().complete_simple("x")
    assert loop.time() - started >= 0.045


async def test_a_real_model_asked_for_is_answered_as_offline_echo():
    """Offline output never carries a real model's name as the model that answered: only the
    text and ``requested_model`` say what was asked for."""
    response = await OfflineProvider().complete_simple("hi", model="claude-sonnet-4-5-20250929")
    assert (response.provider, response.model) == ("offline", "offline-echo")
    assert response.requested_model == "claude-sonnet-4-5-20250929"
    assert response.content == "[offline:claude-sonnet-4-5-20250929] You said: hi"


async def test_a_stream_reports_offline_echo_from_its_start():
    stream = OfflineProvider().stream([Message(Role.USER, "a b")], model="gpt-4o")
    await stream.start()
    assert stream.model == "offline-echo"  # what the gateway reports before the first byte
    _ = [chunk async for chunk in stream]
    assert stream.response.model == "offline-echo"
    assert stream.response.requested_model == "gpt-4o"
