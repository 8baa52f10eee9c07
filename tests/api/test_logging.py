"""Unexpected exceptions are logged with their traceback and the request id, secrets redacted,
on every endpoint; Sentry (when the host configures it) receives them through its logging
integration."""

from __future__ import annotations

import logging

import pytest

import ai.api.openai_compat
import ai.api.usage
import ai.api.views
from ai.api.errors import log_exception
from tests.api.conftest import STATUS

pytestmark = pytest.mark.django_db(transaction=True)

# Built at run time: a secret written in the source would be in every traceback's source lines
# (and in Sentry's pre_context); a real key is never in the code.
CONFIGURED_KEY = "-".join(["plain", "configured", "key", "0123456789"])  # not key-shaped
BEARER = "".join(["abc", "def", "123"])
MESSAGE = f"failed with api key {CONFIGURED_KEY} and Authorization: Bearer {BEARER}"


def _boom(*args, **kwargs):
    raise RuntimeError(MESSAGE)


@pytest.fixture
def configured_key(settings):
    settings.AI_ANTHROPIC_API_KEY = CONFIGURED_KEY


def _error_record(caplog) -> logging.LogRecord:
    [record] = [r for r in caplog.records if r.name == "ai.api" and r.levelno == logging.ERROR]
    return record


@pytest.mark.parametrize(
    ("module", "name", "path"),
    [
        (ai.api.views, "get_available_providers", STATUS),
        (ai.api.usage, "usage_payload", "/api/v1/app/ai/usage"),
        (ai.api.openai_compat, "served_models", "/api/v1/openai/models"),
    ],
)
async def test_non_llm_endpoints_log_their_500s(
    api, monkeypatch, caplog, configured_key, module, name, path
):
    monkeypatch.setattr(module, name, _boom)
    caplog.set_level(logging.INFO)
    response = await api.get(path)
    assert response.status_code == 500
    record = _error_record(caplog)
    assert record.request_id == response["X-Request-ID"]
    assert response["X-Request-ID"] in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert "Traceback (most recent call last)" in caplog.text
    assert "_boom" in caplog.text  # the frame that raised
    assert CONFIGURED_KEY not in caplog.text
    assert BEARER not in caplog.text


def test_a_configured_key_is_redacted_from_the_whole_exception_chain(caplog, configured_key):
    try:
        try:
            raise ValueError({"headers": {"x-api-key": CONFIGURED_KEY}})
        except ValueError as inner:
            err = RuntimeError("wrapper", CONFIGURED_KEY)
            err.add_note(f"note with {CONFIGURED_KEY}")
            raise err from inner
    except RuntimeError as exc:
        caught = exc
    caplog.set_level(logging.INFO)
    log_exception(caught, "rid-1")
    text = caplog.text
    assert "ValueError" in text and "RuntimeError" in text and "note with [redacted]" in text
    assert CONFIGURED_KEY not in text
    assert CONFIGURED_KEY not in repr(caught.args) + repr(caught.__cause__.args)


def test_an_exception_whose_text_cannot_be_redacted_is_logged_as_redacted_text(
    caplog, configured_key
):
    class Opaque(Exception):
        def __str__(self) -> str:  # not from args: redacting args cannot clean it
            return f"secret is {CONFIGURED_KEY}"

    try:
        raise Opaque()
    except Opaque as exc:
        caught = exc
    caplog.set_level(logging.INFO)
    log_exception(caught, "rid-2")
    record = _error_record(caplog)
    assert record.exc_info is None  # not attached: a handler would print str(exc)
    message = record.getMessage()
    assert (
        "Traceback (most recent call last)" in message and "Opaque: secret is [redacted]" in message
    )
    assert "rid-2" in message
    assert CONFIGURED_KEY not in caplog.text


class _MemoryTransport:
    """A sentry_sdk transport that keeps the envelopes it is given."""

    def __new__(cls, options=None):
        from sentry_sdk.transport import Transport

        class Memory(Transport):
            def __init__(self, options=None):
                super().__init__(options)
                self.envelopes = []

            def capture_envelope(self, envelope):
                self.envelopes.append(envelope)

        return Memory(options)


@pytest.fixture
def sentry_events():
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.integrations.logging import LoggingIntegration

    transport = _MemoryTransport()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=transport,
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
    )
    try:
        yield transport.envelopes
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


async def test_sentry_receives_the_error_with_its_stack_and_without_the_secret(
    api, monkeypatch, configured_key, sentry_events
):
    monkeypatch.setattr(ai.api.views, "get_available_providers", _boom)
    response = await api.get(STATUS)
    assert response.status_code == 500
    import sentry_sdk

    sentry_sdk.flush()
    events = [
        item.payload.json
        for envelope in sentry_events
        for item in envelope.items
        if item.type == "event"
    ]
    [event] = [e for e in events if e.get("logger") == "ai.api"]
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert "[redacted]" in exception["value"]
    functions = [frame["function"] for frame in exception["stacktrace"]["frames"]]
    assert "_boom" in functions
    assert event["extra"]["request_id"] == response["X-Request-ID"]
    raw = b"".join(envelope.serialize() for envelope in sentry_events)
    assert CONFIGURED_KEY.encode() not in raw
    assert BEARER.encode() not in raw
