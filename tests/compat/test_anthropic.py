"""ai._compat.anthropic: the anthropic internals behind the prepared requests are there on the
installed release; when they are not, every call goes through ``client.post()`` with the same
wire and the same errors."""

from __future__ import annotations

import anthropic
import pytest

from ai._compat import anthropic as guard
from tests.compat import stainless
from tests.providers.conftest import transport  # noqa: F401  (the fixture)


def test_checks_pass_on_the_installed_anthropic():
    stainless.assert_checks_pass(guard)


@pytest.mark.parametrize("change", stainless.CHANGES, ids=lambda c: c[0])
def test_a_changed_internal_turns_the_prepared_path_off(change, monkeypatch, caplog):
    stainless.assert_change_turns_prepared_off(guard, anthropic, change, monkeypatch, caplog)


@pytest.mark.usefixtures("upstream_settings", "transport")  # both transports
async def test_the_public_path_has_the_same_wire_and_errors(fake_upstream, monkeypatch):
    await stainless.assert_public_path_is_the_same("anthropic", guard, fake_upstream, monkeypatch)
