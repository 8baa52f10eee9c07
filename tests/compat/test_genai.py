"""ai._compat.genai: the google-genai internals behind the raw wire are there on the installed
release; when they are not, the provider uses the SDK's typed API with the same wire and the
same errors."""

from __future__ import annotations

import importlib
import logging

import pytest
from google.genai import _api_client

from ai._compat import genai as genai_compat
from ai.exceptions import RateLimitedError, UpstreamUnavailableError
from ai.providers.gemini import GeminiProvider
from tests.providers.conftest import open_provider, transport  # noqa: F401  (the fixture)

MODEL = "gemini-fake"


def test_checks_pass_on_the_installed_genai():
    assert genai_compat.PROBLEM is None, genai_compat.PROBLEM
    assert genai_compat.RAW_WIRE_OK
    assert GeminiProvider.wire == "raw"


def test_a_changed_internal_turns_the_raw_wire_off(monkeypatch, caplog):
    async def _async_request(self, request, options=None):  # a release that renamed both
        raise AssertionError("not called")

    try:
        with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, "ai.compat"):
            patched.setattr(_api_client.BaseApiClient, "_async_request", _async_request)
            module = importlib.reload(genai_compat)
            assert not module.RAW_WIRE_OK
            assert "_async_request no longer takes http_request, stream" in module.PROBLEM
    finally:
        module = importlib.reload(genai_compat)
    assert module.RAW_WIRE_OK
    [warning] = [r for r in caplog.records if r.name == "ai.compat"]
    assert "google-genai" in warning.getMessage() and "typed API" in warning.getMessage()


async def _converse() -> list[tuple[object, float | None]]:
    outcomes: list[tuple[object, float | None]] = []
    async with open_provider("gemini") as provider:
        outcomes.append(((await provider.complete_simple("hi", model=MODEL)).content, None))
        chunks = [chunk async for chunk in provider.stream_simple("hi", model=MODEL)]
        outcomes.append(("".join(chunks), None))
        for directive in ("status=429 retry_delay=30", "status=503"):
            with pytest.raises((RateLimitedError, UpstreamUnavailableError)) as caught:
                await provider.complete_simple(f"[[fake:{directive}]]", model=MODEL)
            outcomes.append((type(caught.value), caught.value.retry_after))
    return outcomes


def _wire(fake_upstream) -> list[tuple[str, str, object]]:
    """Path, query and body of each request (the typed API adds an empty generationConfig)."""
    return [
        (r.path, r.query, {k: v for k, v in r.body.items() if v != {}})
        for r in fake_upstream.requests
    ]


@pytest.mark.usefixtures("upstream_settings", "transport")  # both transports
async def test_the_typed_api_has_the_same_wire_and_errors(fake_upstream, monkeypatch):
    monkeypatch.setattr(GeminiProvider, "wire", "raw")  # restored after the test
    raw = await _converse()
    assert [kind for kind, _ in raw[2:]] == [RateLimitedError, UpstreamUnavailableError]
    assert raw[2][1] == 30.0
    raw_wire = _wire(fake_upstream)
    fake_upstream.reset()

    monkeypatch.setattr(genai_compat, "RAW_WIRE_OK", False)
    assert await _converse() == raw
    assert GeminiProvider.wire == "typed"  # switched once, with a warning
    assert _wire(fake_upstream) == raw_wire
