"""ai._compat.openai: the openai internals behind the prepared requests are there on the
installed release; when they are not, every call goes through ``client.post()`` with the same
wire and the same errors."""

from __future__ import annotations

import importlib

import openai
import pytest

from ai._compat import openai as guard
from tests.compat import stainless
from tests.providers.conftest import transport  # noqa: F401  (the fixture)


def test_checks_pass_on_the_installed_openai():
    stainless.assert_checks_pass(guard)


@pytest.mark.parametrize("change", stainless.CHANGES, ids=lambda c: c[0])
def test_a_changed_internal_turns_the_prepared_path_off(change, monkeypatch, caplog):
    stainless.assert_change_turns_prepared_off(guard, openai, change, monkeypatch, caplog)


@pytest.mark.usefixtures("upstream_settings", "transport")  # both transports
async def test_the_public_path_has_the_same_wire_and_errors(fake_upstream, monkeypatch):
    await stainless.assert_public_path_is_the_same("openai", guard, fake_upstream, monkeypatch)


def test_a_constructor_that_changed_does_not_break_the_import(monkeypatch):
    def __init__(self, *, api_key, base_url, max_retries, http_client, new_required):
        raise AssertionError("not reached")

    try:
        with monkeypatch.context() as patched:
            patched.setattr(openai.AsyncOpenAI, "__init__", __init__)
            module = importlib.reload(guard)
            assert not module.PREPARED_REQUESTS_OK
            assert "AsyncOpenAI(...) could not be built as before" in module.PREPARED.problem
    finally:
        module = importlib.reload(guard)
    assert module.PREPARED_REQUESTS_OK
