"""One structured record per request on the ``ai.requests`` logger, and its JSON formatter."""

from __future__ import annotations

import logging

import orjson
import pytest

from ai.request_log import JSONFormatter
from tests.api.conftest import COMPLETIONS, ApiClient

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_LOOKING = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


def _records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ai.requests"]


async def test_a_record_per_request_without_the_prompt(caplog, token, settings):
    settings.AI_OFFLINE_ENABLED = True
    caplog.set_level(logging.INFO, logger="ai.requests")
    body = {"messages": [{"role": "user", "content": "my secret plan"}], "max_tokens": 20}
    response = await ApiClient(token).post(COMPLETIONS, body)
    assert response.status_code == 200
    [record] = _records(caplog)
    fields = record.ai
    assert fields["request_id"] == response.json()["id"] == response["x-request-id"]
    assert fields["endpoint"] == "completions"
    assert fields["status"] == "ok"
    assert fields["provider"] == "offline"
    assert fields["user_id"] is not None
    assert fields["key_prefix"] is None  # a JWT, not a key
    assert fields["prompt_tokens"] == response.json()["usage"]["prompt_tokens"]
    assert fields["latency_ms"] > 0
    assert "prompt" not in fields
    line = JSONFormatter().format(record)
    assert "my secret plan" not in line
    assert orjson.loads(line)["request_id"] == fields["request_id"]


async def test_prompts_only_when_asked_and_redacted(caplog, token, settings):
    settings.AI_OFFLINE_ENABLED = True
    settings.AI_LOG_PROMPTS = True
    caplog.set_level(logging.INFO, logger="ai.requests")
    body = {"messages": [{"role": "user", "content": f"use key {SECRET_LOOKING} please"}]}
    assert (await ApiClient(token).post(COMPLETIONS, body)).status_code == 200
    [record] = _records(caplog)
    assert "use key" in record.ai["prompt"]
    assert SECRET_LOOKING not in JSONFormatter().format(record)


async def test_a_failed_request_is_logged_with_its_code(caplog, token, upstream_settings):
    upstream_settings.AI_MAX_RETRIES = 0
    caplog.set_level(logging.INFO, logger="ai.requests")
    body = {"messages": [{"role": "user", "content": "hi [[fake:status=429]]"}]}
    body["provider"] = "openai"
    response = await ApiClient(token).post(COMPLETIONS, body)
    assert response.status_code == 429
    [record] = _records(caplog)
    assert record.ai["status"] == "error"
    assert record.ai["error_code"] == response.json()["error"]["code"] == "rate_limited"
    assert record.ai["provider"] == "openai"


async def test_nothing_when_the_logger_is_off(caplog, token, settings):
    settings.AI_OFFLINE_ENABLED = True
    caplog.set_level(logging.WARNING, logger="ai.requests")
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert (await ApiClient(token).post(COMPLETIONS, body)).status_code == 200
    assert _records(caplog) == []


def test_the_formatter_writes_one_json_object_per_record():
    record = logging.LogRecord("ai.api", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    data = orjson.loads(JSONFormatter().format(record))
    assert data["message"] == "boom x"
    assert data["level"] == "ERROR"
    assert data["logger"] == "ai.api"
