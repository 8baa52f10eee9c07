"""Provider cooldown: a target that keeps failing is skipped by the router, in every process.

The providers are test_router's scripted stand-ins (the policy is the router's; the wire is
tested in tests/providers). The state is in the Django cache, so with REDIS_URL set these run on
Redis. "Another process" is a fresh :class:`Cooldowns` (an empty per-process copy) over the same
cache; time moves by replacing the module's clock.
"""

from __future__ import annotations

import asyncio

import pytest

from ai.services import ModelComplexity, cooldown
from ai.services.cooldown import Cooldowns
from ai.services.router import LLMRouter, RouteTrace
from tests.services.test_router import CALLS, SCRIPT, scripted, unavailable  # noqa: F401

OPENAI = ("openai", "gpt-4o")
ANTHROPIC = ("anthropic", "claude-sonnet-4-5-20250929")
GEMINI = ("gemini", "gemini-2.5-flash")


@pytest.fixture(autouse=True)
def policy(settings, scripted):  # noqa: F811
    settings.AI_MAX_RETRIES = 0
    settings.AI_COOLDOWN_FAILURES = 3
    settings.AI_COOLDOWN_WINDOW_SECONDS = 60
    settings.AI_COOLDOWN_SECONDS = 30
    cooldown.board.reset()
    yield
    cooldown.board.reset()


async def moderate(**kwargs) -> tuple[tuple[str, str], str]:
    """One moderate request: who answered, and its trace."""
    trace = RouteTrace("complexity=moderate")
    router = LLMRouter()
    targets = await router.plan(ModelComplexity.MODERATE, **kwargs)
    response = await router.run(
        targets,
        lambda p, route: p.complete([{"role": "user", "content": "hi"}], route.model),
        overridden=bool(kwargs),
        trace=trace,
    )
    return (response.provider, response.model), str(trace)


async def fail_openai(times: int) -> None:
    SCRIPT[OPENAI] = [unavailable() for _ in range(times)]
    for _ in range(times):
        answered, trace = await moderate()
        assert answered == ANTHROPIC
        assert trace == (
            "complexity=moderate; openai/gpt-4o=upstream_unavailable; "
            "anthropic/claude-sonnet-4-5-20250929=ok"
        )


async def test_after_n_failures_the_target_is_skipped_without_a_call():
    await fail_openai(3)
    CALLS.clear()
    answered, trace = await moderate()
    assert answered == ANTHROPIC
    assert CALLS == [ANTHROPIC]  # openai's upstream not called
    assert trace == (
        "complexity=moderate; openai/gpt-4o=cooldown; anthropic/claude-sonnet-4-5-20250929=ok"
    )


async def test_fewer_failures_than_the_threshold_skip_nothing():
    await fail_openai(2)
    CALLS.clear()
    assert (await moderate())[0] == OPENAI
    assert CALLS == [OPENAI]


async def test_failures_older_than_the_window_do_not_count(settings):
    # The count expires with the window that its first failure opened, in the cache itself
    # (an increment must not give it the cache's default timeout).
    settings.AI_COOLDOWN_WINDOW_SECONDS = 1
    cooldown.board.reset()
    await fail_openai(2)
    await asyncio.sleep(1.3)
    await fail_openai(1)
    CALLS.clear()
    assert (await moderate())[0] == OPENAI
    assert CALLS == [OPENAI]


async def test_non_retryable_failures_do_not_count():
    from ai.exceptions import UpstreamAuthenticationError

    SCRIPT[OPENAI] = [UpstreamAuthenticationError("bad key", provider="openai")] * 3
    for _ in range(3):
        assert (await moderate())[0] == ANTHROPIC  # falls back, but no cooldown
    CALLS.clear()
    assert (await moderate())[0] == OPENAI


async def test_another_process_skips_it_too(monkeypatch):
    await fail_openai(3)
    other = Cooldowns()  # a second process: nothing in its own copy, the same cache
    monkeypatch.setattr(cooldown, "board", other)
    CALLS.clear()
    assert (await moderate())[0] == ANTHROPIC
    assert CALLS == [ANTHROPIC]


async def test_a_failure_counted_in_another_process_counts_here(monkeypatch):
    here = cooldown.board
    await fail_openai(2)
    monkeypatch.setattr(cooldown, "board", Cooldowns())
    await fail_openai(1)  # the third failure, in "another process"
    monkeypatch.setattr(cooldown, "board", here)
    here.forget()  # this process's copy is refreshed (at most a second later)
    CALLS.clear()
    assert (await moderate())[0] == ANTHROPIC
    assert CALLS == [ANTHROPIC]


async def test_the_cooldown_expires(monkeypatch):
    await fail_openai(3)
    now = cooldown._now()
    monkeypatch.setattr(cooldown, "_now", lambda: now + 31)
    CALLS.clear()
    assert (await moderate())[0] == OPENAI
    assert CALLS == [OPENAI]


async def test_an_explicit_model_is_never_skipped():
    await fail_openai(3)
    CALLS.clear()
    answered, trace = await moderate(model="gpt-4o")
    assert answered == OPENAI
    assert trace == "complexity=moderate; openai/gpt-4o=ok"


async def test_when_everything_cools_down_the_least_recently_failed_is_tried(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(cooldown, "_now", lambda: clock[0])
    for target in (ANTHROPIC, GEMINI, OPENAI):  # anthropic failed first
        for _ in range(3):
            await cooldown.board.failed(target)
        clock[0] += 1
    CALLS.clear()
    answered, trace = await moderate()
    assert answered == ANTHROPIC
    assert CALLS == [ANTHROPIC]
    assert trace == (
        "complexity=moderate; openai/gpt-4o=cooldown; anthropic/claude-sonnet-4-5-20250929=ok"
    )


async def test_switched_off(settings):
    settings.AI_COOLDOWN_FAILURES = 0
    await fail_openai(3)
    CALLS.clear()
    assert (await moderate())[0] == OPENAI
