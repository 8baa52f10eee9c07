"""ai.redact: what counts as a secret, and the logging filter a host can reuse."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

from ai.redact import APP_LOGGERS, RedactingFilter, redact, redact_exception

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
    from ai.keys import generate_key

    key, prefix = generate_key()
    assert redact(f"pasted {key} here") == "pasted [redacted] here"
    assert redact(f"key {prefix} revoked") == f"key {prefix} revoked"  # the prefix is not secret
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


def test_every_logger_of_the_app_redacts():
    """Each ``getLogger(...)`` in ai/ names a logger in APP_LOGGERS, and each of those carries
    the filter once the app is ready (a new logger must be added there)."""
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"getLogger\((?:\"([\w.]+)\"|__name__)\)")
    names = set()
    for path in (root / "ai").rglob("*.py"):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for match in pattern.finditer(path.read_text()):
            names.add(match.group(1) or module)
    assert names and names <= set(APP_LOGGERS)
    for name in APP_LOGGERS:
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters), name


def test_the_metrics_token_is_a_secret_too(settings):
    settings.AI_METRICS_TOKEN = "scrape-me-7f3a9c"
    assert redact("token scrape-me-7f3a9c leaked") == "token [redacted] leaked"


def test_a_declared_compatible_providers_key_is_a_secret_too(settings):
    settings.AI_PROVIDERS = {"groq": {"base_url": "http://127.0.0.1:9/v1", "api_key": "qq-77-zz"}}
    assert redact("sent qq-77-zz upstream") == "sent [redacted] upstream"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("ai.requests", logging.INFO, __file__, 1, msg, args, None)


def test_the_request_logs_own_message_passes_unscanned_and_only_it(configured_key):
    """A record whose ``msg`` is ``ai.redact.REQUEST_MESSAGE`` itself (the request log's: a
    generated id and a status) skips the scan; an equal string that is not that object, or the
    same message with an exception, is still redacted."""
    from ai.redact import REQUEST_MESSAGE

    passing = RedactingFilter()
    ours = _record(REQUEST_MESSAGE, CONFIGURED_KEY, "ok")
    assert passing.filter(ours) and ours.getMessage() == f"request {CONFIGURED_KEY} ok"
    equal = "".join(["request ", "%s %s"])
    assert equal == REQUEST_MESSAGE and equal is not REQUEST_MESSAGE
    theirs = _record(equal, CONFIGURED_KEY, "ok")
    assert passing.filter(theirs) and theirs.getMessage() == "request [redacted] ok"
    failing = _record(REQUEST_MESSAGE, "id", "error")
    try:
        raise ValueError(CONFIGURED_KEY)
    except ValueError:
        failing.exc_info = sys.exc_info()
    assert passing.filter(failing) and CONFIGURED_KEY not in repr(failing.exc_info[1])
