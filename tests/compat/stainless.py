"""What the openai and anthropic guard tests share (both SDKs are Stainless-generated and guarded
by :class:`ai._compat._stainless.PreparedRequests`): each check, run against one SDK."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

import pytest

from ai.exceptions import RateLimitedError, UpstreamUnavailableError
from ai.providers import _prepared
from tests.providers.conftest import open_provider

#: Headers that differ between any two requests.
VARYING = {"content-length", "x-stainless-retry-count"}
#: Internals replaced the way a release might change them: (name, replacement, the problem).
CHANGES = [
    ("_build_request", lambda self, opts: None, "_build_request no longer takes options"),
    ("_make_status_error_from_response", None, "_make_status_error_from_response is gone"),
]
#: A reply, a stream, a 429 and a 503: what the provider answered (errors by class, retry_after).
EXPECTED = [
    ("str", None),
    ("streamed", None),
    (RateLimitedError, 3.0),
    (UpstreamUnavailableError, None),
]


def assert_checks_pass(guard_module: ModuleType) -> None:
    assert guard_module.PREPARED.problem is None, guard_module.PREPARED.problem
    assert guard_module.PREPARED_REQUESTS_OK


def assert_change_turns_prepared_off(
    guard_module: ModuleType, sdk: ModuleType, change: tuple, monkeypatch, caplog
) -> None:
    """Reload the guard with one internal changed: the prepared path is off, and one warning
    names the SDK and the public path. The guard is reloaded as it was afterwards."""
    name, replacement, problem = change
    try:
        with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, "ai.compat"):
            patched.setattr(sdk._base_client.BaseClient, name, replacement)
            module = importlib.reload(guard_module)
            assert not module.PREPARED_REQUESTS_OK
            assert problem in module.PREPARED.problem
    finally:
        module = importlib.reload(guard_module)
    assert module.PREPARED_REQUESTS_OK
    [warning] = [r for r in caplog.records if r.name == "ai.compat"]
    assert sdk.__name__ in warning.getMessage() and "client.post()" in warning.getMessage()


async def assert_public_path_is_the_same(
    name: str, guard_module: ModuleType, fake_upstream, monkeypatch
) -> None:
    """The same conversation with the prepared path on, then off: the same answers and errors,
    the same requests on the wire; and the second really took ``client.post()``."""
    assert await _converse(name) == (EXPECTED, True)
    prepared_wire = _wire(fake_upstream)
    fake_upstream.reset()

    monkeypatch.setattr(guard_module.PREPARED, "ok", False)
    assert await _converse(name) == (EXPECTED, False)
    assert _wire(fake_upstream) == prepared_wire


async def _converse(name: str) -> tuple[list[tuple[object, float | None]], bool]:
    outcomes: list[tuple[object, float | None]] = []
    async with open_provider(name) as provider:
        outcomes.append((type((await provider.complete_simple("hi")).content).__name__, None))
        stream = provider.stream_simple("hi")
        outcomes.append(("".join([chunk async for chunk in stream]) and "streamed", None))
        for directive in ("status=429 retry_after=3", "status=503"):
            with pytest.raises((RateLimitedError, UpstreamUnavailableError)) as caught:
                await provider.complete_simple(f"[[fake:{directive}]]")
            outcomes.append((type(caught.value), caught.value.retry_after))
        templates = _prepared._templates.get(provider.client) or {}
    return outcomes, any(t is not None for t in templates.values())


def _wire(fake_upstream) -> list[tuple[str, str, dict[str, str], object]]:
    """The captured requests, with the headers that vary per request left out."""
    return [
        (
            r.method,
            r.path,
            {k.lower(): v for k, v in r.headers.items() if k.lower() not in VARYING},
            r.body,
        )
        for r in fake_upstream.requests
    ]
