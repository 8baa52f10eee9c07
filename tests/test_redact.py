"""ai.redact: what counts as a secret, and the logging filter a host can reuse."""

from __future__ import annotations

import logging

import pytest

from ai.redact import RedactingFilter, redact, redact_exception

CONFIGURED_KEY = "-".join(["plain", "configured", "key", "0123456789"])  # not key-shaped


@pytest.fixture
def configured_key(settings):
    settings.AI_ANTHROPIC_API_KEY = CONFIGURED_KEY


def test_a_configured_key_is_redacted_wherever_it_appears(configured_key):
    assert redact(f"calling with {CONFIGURED_KEY}!") == "calling with [redacted]!"


def test_redaction_patterns():
    assert redact("Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig") == "Authorization: [redacted]"
    assert redact("x-goog-api-key=AIzaSyABCDEF") == "x-goog-api-key=[redacted]"
    assert redact("GET /v1/models?key=abc123&alt=sse") == "GET /v1/models?key=[redacted]&alt=sse"
    assert redact("upstream: sk-proj-abcdef") == "upstream: [redacted]"
    assert redact("max_tokens=5, tokens: 7") == "max_tokens=5, tokens: 7"  # no false alarms
    err = KeyError("sk-live-abcdef")
    assert redact_exception(err) and "sk-live" not in str(err)


def test_the_filter_works_on_a_host_handler(caplog, configured_key):
    """``ai.redact.RedactingFilter`` on a host logger cleans its records too."""
    host = logging.getLogger("tests.host")
    host.addFilter(RedactingFilter())
    try:
        caplog.set_level(logging.INFO)
        host.warning("calling with %s", CONFIGURED_KEY)
    finally:
        host.filters.clear()
    assert "calling with [redacted]" in caplog.text
    assert CONFIGURED_KEY not in caplog.text
