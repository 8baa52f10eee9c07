"""OpenTelemetry spans (ai.tracing) exported by a real SDK tracer provider: one span per
request, one child per upstream attempt, GenAI attributes, nothing when no provider is set."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ai import tracing
from tests.api.conftest import COMPLETIONS, ApiClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spans(monkeypatch):
    """A real SDK tracer provider, installed as the global one for this test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    yield exporter
    provider.shutdown()


def test_off_without_a_tracer_provider():
    # The API's default (no SDK configured) is a proxy making no-op spans: we make none.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert tracing.start_request("chat", "r1") is None
    assert tracing.start_attempt(None, "chat", "openai", "gpt-4o") is None


async def test_a_request_with_a_retry(spans, upstream_settings, token):
    upstream_settings.AI_RETRY_BACKOFF_MS = 1
    body = {
        "messages": [{"role": "user", "content": "hi [[fake:status=503 fail_times=1 id=otel]]"}],
        "provider": "openai",
        "model": "gpt-4o-mini",
        "max_tokens": 50,
    }
    response = await ApiClient(token).post(COMPLETIONS, body)
    assert response.status_code == 200, response.content
    finished = {s.name: s for s in spans.get_finished_spans()}
    request = finished.pop("ai.gateway completions")
    attempts = [s for s in spans.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert len(attempts) == 2
    failed, won = attempts
    for span in attempts:
        assert span.parent.span_id == request.context.span_id
        assert span.attributes["gen_ai.provider.name"] == "openai"
        assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
        assert span.kind is trace.SpanKind.CLIENT
    assert failed.attributes["error.type"] == "upstream_unavailable"
    assert not failed.status.is_ok
    assert (
        won.attributes["gen_ai.usage.output_tokens"]
        == response.json()["usage"]["completion_tokens"]
    )
    assert won.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert request.attributes["ai.request_id"] == response.json()["id"]
    assert request.attributes["ai.status"] == "ok"
    assert request.attributes["gen_ai.usage.input_tokens"] > 0
    assert "ai.route" in request.attributes
    spanned = str([dict(s.attributes) for s in spans.get_finished_spans()])
    assert "fake:status" not in spanned  # no prompt text on any span


async def test_a_stream_ends_its_request_span_with_its_usage(spans, upstream_settings, token):
    body = {
        "messages": [{"role": "user", "content": "hi [[fake:chunks=4]]"}],
        "provider": "openai",
        "stream": True,
    }
    response = await ApiClient(token).post(COMPLETIONS, body)
    assert response.status_code == 200
    b"".join([chunk async for chunk in response.streaming_content])
    [request] = [s for s in spans.get_finished_spans() if s.name.startswith("ai.gateway")]
    assert request.attributes["gen_ai.usage.output_tokens"] == 4
    assert request.attributes["ai.status"] == "ok"


async def test_a_failed_request_is_an_error_span(spans, upstream_settings, token):
    upstream_settings.AI_MAX_RETRIES = 0
    body = {
        "messages": [{"role": "user", "content": "hi [[fake:status=401]]"}],
        "provider": "openai",
    }
    response = await ApiClient(token).post(COMPLETIONS, body)
    assert response.status_code >= 400
    [request] = [s for s in spans.get_finished_spans() if s.name.startswith("ai.gateway")]
    assert request.attributes["error.type"] == response.json()["error"]["code"]
    assert not request.status.is_ok
