"""ai._compat.openai: the openai internals behind the prepared requests are there on the installed
release; when they are not, every call goes through ``client.post()`` with the same wire and the
same errors."""

from __future__ import annotations

import importlib
import logging

import openai
import pytest

from ai._compat import openai as openai_compat
from ai.exceptions import RateLimitedError, UpstreamUnavailableError
from tests.compat.stainless import converse, wire
from tests.providers.conftest import transport  # noqa: F401  (the fixture)


def test_checks_pass_on_the_installed_openai():
    assert openai_compat.PREPARED.problem is None, openai_compat.PREPARED.problem
    assert openai_compat.PREPARED_REQUESTS_OK


@pytest.mark.parametrize(
    ("name", "replacement", "problem"),
    [
        ("_build_request", lambda self, opts: None, "_build_request no longer takes options"),
        ("_make_status_error_from_response", None, "_make_status_error_from_response is gone"),
    ],
)
def test_a_changed_internal_turns_the_prepared_path_off(
    monkeypatch, caplog, name, replacement, problem
):
    try:
        with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, "ai.compat"):
            patched.setattr(openai._base_client.BaseClient, name, replacement)
            module = importlib.reload(openai_compat)
            assert not module.PREPARED_REQUESTS_OK
            assert problem in module.PREPARED.problem
    finally:
        module = importlib.reload(openai_compat)
    assert module.PREPARED_REQUESTS_OK
    [warning] = [r for r in caplog.records if r.name == "ai.compat"]
    assert "openai" in warning.getMessage() and "client.post()" in warning.getMessage()


@pytest.mark.usefixtures("upstream_settings", "transport")  # both transports
async def test_the_public_path_has_the_same_wire_and_errors(fake_upstream, monkeypatch):
    expected = [
        ("str", None),
        ("streamed", None),
        (RateLimitedError, 3.0),
        (UpstreamUnavailableError, None),
    ]
    assert await converse("openai") == (expected, True)
    prepared_wire = wire(fake_upstream)
    fake_upstream.reset()

    monkeypatch.setattr(openai_compat.PREPARED, "ok", False)
    assert await converse("openai") == (expected, False)
    assert wire(fake_upstream) == prepared_wire


def test_a_constructor_that_changed_does_not_break_the_import(monkeypatch):
    def __init__(self, *, api_key, base_url, max_retries, http_client, new_required):
        raise AssertionError("not reached")

    try:
        with monkeypatch.context() as patched:
            patched.setattr(openai.AsyncOpenAI, "__init__", __init__)
            module = importlib.reload(openai_compat)
            assert not module.PREPARED_REQUESTS_OK
            assert "AsyncOpenAI(...) could not be built as before" in module.PREPARED.problem
    finally:
        module = importlib.reload(openai_compat)
    assert module.PREPARED_REQUESTS_OK
