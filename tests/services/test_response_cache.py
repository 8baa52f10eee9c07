"""``ai.services.response_cache`` on its own: which calls get a key, and a backend that is read in
a worker thread (the file cache stands in for Redis, Memcached or the database)."""

from __future__ import annotations

import logging

import pytest

from ai.providers.base import Message, ModelComplexity
from ai.services import response_cache
from ai.services.gateway import LLMCall
from ai.services.routes import ModelRoute

CALL = LLMCall(messages=(Message("user", "hi"),), temperature=0, max_tokens=10)
TARGETS = [ModelRoute("openai", "gpt-4o"), ModelRoute("gemini", "gemini-2.5-flash")]


@pytest.fixture
def on(settings):
    settings.AI_CACHE_TTL = 30
    return settings


def test_off_by_default():
    assert response_cache.key_for(CALL, TARGETS, 1, None) is None
    assert response_cache.key_for(CALL, TARGETS, 1, "use") is None


def test_what_decides_the_key(on):
    key = response_cache.key_for(CALL, TARGETS, 1, None)
    assert key is not None and key.startswith("ai:resp:") and len(key) == len("ai:resp:") + 64
    assert response_cache.key_for(CALL, TARGETS, 1, "use") == key
    others = [
        response_cache.key_for(CALL, TARGETS, 2, None),
        response_cache.key_for(CALL, TARGETS[::-1], 1, None),
        response_cache.key_for(CALL, TARGETS[:1], 1, None),
        response_cache.key_for(
            CALL.__class__(**{**_fields(CALL), "max_tokens": 11}), TARGETS, 1, None
        ),
        response_cache.key_for(
            CALL.__class__(**{**_fields(CALL), "complexity": ModelComplexity.SIMPLE}),
            TARGETS,
            1,
            None,
        ),
        response_cache.key_for(
            CALL.__class__(**{**_fields(CALL), "messages": (Message("system", "hi"),)}),
            TARGETS,
            1,
            None,
        ),
    ]
    assert None not in others and len({key, *others}) == len(others) + 1


def test_cache_breakpoints_do_not_change_the_key(on):
    """Prompt-cache breakpoints change what a call costs, never its answer."""
    from ai.providers.parts import ChatOptions, TextPart, Tool

    def call(cache: str | None) -> LLMCall:
        parts = [TextPart("a document", cache=cache), TextPart("a question")]
        return LLMCall(
            messages=(
                Message("system", "rules", cache=cache),
                Message.of_parts("user", parts),
                Message("tool", "18C", tool_call_id="t1", name="f", cache=cache),
            ),
            temperature=0,
            options=ChatOptions(tools=(Tool("f", "F.", {"type": "object"}, cache=cache),)),
        )

    marked, plain = call("5m"), call(None)
    assert marked.messages[1].parts and not plain.messages[1].parts  # kept apart for the mark
    key = response_cache.key_for(plain, TARGETS, 1, None)
    assert key is not None
    assert response_cache.key_for(marked, TARGETS, 1, None) == key
    assert response_cache.key_for(call("1h"), TARGETS, 1, None) == key


def _fields(call: LLMCall) -> dict:
    return {name: getattr(call, name) for name in call.__dataclass_fields__}


def test_not_cached(on):
    warm = LLMCall(messages=CALL.messages, temperature=0.5)
    assert response_cache.key_for(warm, TARGETS, 1, None) is None
    assert response_cache.key_for(warm, TARGETS, 1, "use") is not None
    assert response_cache.key_for(CALL, TARGETS, 1, "skip") is None
    stream = LLMCall(messages=CALL.messages, temperature=0, stream=True)
    assert response_cache.key_for(stream, TARGETS, 1, "use") is None
    # No user to keep answers apart: only a shared cache may serve it.
    assert response_cache.key_for(CALL, TARGETS, None, None) is None
    on.AI_CACHE_SHARED = True
    assert response_cache.key_for(CALL, TARGETS, None, None) == response_cache.key_for(
        CALL, TARGETS, 7, None
    )


@pytest.fixture
def file_cache(on, tmp_path):
    on.CACHES = {
        **on.CACHES,
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    on.AI_CACHE_ALIAS = "files"
    response_cache.reset()
    yield tmp_path
    response_cache.reset()


async def test_a_backend_with_io_is_used_from_a_thread(file_cache):
    _, in_loop = response_cache._backend()
    assert not in_loop
    assert await response_cache.lookup("ai:resp:x") is None
    await response_cache.store("ai:resp:x", {"id": "original", "content": "answer"})
    assert await response_cache.lookup("ai:resp:x") == {"content": "answer"}  # no id kept
    assert list(file_cache.iterdir())


async def test_a_failing_cache_is_a_logged_miss(on, tmp_path, caplog):
    (tmp_path / "a-file").write_text("")
    on.CACHES = {
        **on.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "a-file" / "cache"),  # under a file: every write fails
        },
    }
    on.AI_CACHE_ALIAS = "broken"
    response_cache._failed_at = 0.0
    with caplog.at_level(logging.WARNING, "ai.api"):
        await response_cache.store("ai:resp:y", {"content": "answer"})
    assert "could not write the response cache 'broken'" in caplog.text
    assert await response_cache.lookup("ai:resp:y") is None
