"""Shared helpers for the provider tests (OpenAI, Anthropic, Gemini).

Provider tests drive the official SDKs over real HTTP against the fake upstream
(``tests/fake_upstream``). Typical use::

    async def test_something(upstream_settings, transport, fake_upstream):
        async with open_provider("openai") as provider:
            ...

``transport`` runs the test once per HTTP transport the SDKs support here.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from ai.services import clear_llm_cache

#: Every value of ``AI_HTTP_TRANSPORT`` the provider tests must pass with.
TRANSPORTS = ("httpx2", "aiohttp")


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, settings) -> str:
    """Parametrize a test over both HTTP transports (sets ``AI_HTTP_TRANSPORT``).

    Clears the provider cache before and after, so each run builds fresh SDK clients.
    Combine with ``upstream_settings`` (tests/conftest.py) to point the providers at the fake.
    """
    settings.AI_HTTP_TRANSPORT = request.param
    clear_llm_cache()
    yield request.param
    clear_llm_cache()


@asynccontextmanager
async def open_provider(name: str) -> AsyncIterator:
    """The configured provider ``name``; its SDK client for this loop is closed on exit.

    Closing inside the test's own loop avoids "Unclosed client session" warnings (aiohttp) and
    connections leaking into the next test's loop.
    """
    from ai.services import get_llm_provider

    provider = get_llm_provider(name)
    try:
        yield provider
    finally:
        await provider.aclose()


def closed_port_url(path: str = "") -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def assert_no_secret(text: object, *secrets: str) -> None:
    """Fail if any secret (API key) appears in ``text`` (an error, its message, a repr...)."""
    rendered = f"{text!s} {text!r}"
    for secret in secrets:
        if secret:
            assert secret not in rendered, f"secret leaked into {rendered!r}"


# -- shared by the tool tests (test_*_tools.py) -------------------------------------------------

PNG = (  # a 1x1 PNG, base64
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="
)


def ask(text: str = "What is the weather in Paris?") -> list:
    from ai.providers.base import Message, Role

    return [Message(Role.SYSTEM, "Use tools."), Message(Role.USER, text)]


def failed_tool_turn(call_id: str) -> list:
    """A tool call of ``get_time`` answered by a failed tool (``is_error``): "clock broken"."""
    from ai.providers.base import Message, Role
    from ai.providers.parts import ToolCall

    return [
        Message(Role.USER, "Time?"),
        Message(Role.ASSISTANT, "", tool_calls=(ToolCall(call_id, "get_time", "{}"),)),
        Message(Role.TOOL, "clock broken", tool_call_id=call_id, name="get_time", is_error=True),
    ]


async def drain(stream) -> list:
    """Every piece of a stream (text and tool-call deltas)."""
    return [piece async for piece in stream]


def sent(fake_upstream, n: int = -1) -> dict:
    """The JSON body of the fake upstream's ``n``-th request (the last by default)."""
    return fake_upstream.requests[n].body
