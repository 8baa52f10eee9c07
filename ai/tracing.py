"""OpenTelemetry spans for gateway requests, following the GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/): one span per gateway request, and one
child span per upstream attempt (``chat <model>`` / ``embeddings <model>``) with
``gen_ai.provider.name`` (and the older ``gen_ai.system``), ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` / ``output_tokens``,
``gen_ai.response.finish_reasons`` and ``error.type``.

Optional, and free when off: spans are made only when ``opentelemetry-api`` is importable and
the host has installed a real tracer provider (``opentelemetry-sdk``, configured by the host or
``opentelemetry-instrument``). Otherwise every function here returns after one check. Prompt
and answer text are never put on spans. A stream's attempt span ends at its first delta (the
attempt is then won); its request span at its end, with the usage.
"""

from __future__ import annotations

from typing import Any

try:  # optional dependency
    from opentelemetry import trace as _trace
    from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - exercised only without the package
    _trace = None

_INSTRUMENTATION = "ai.gateway"


def _tracer() -> Any | None:
    """The tracer, or None when no real tracer provider is installed (the API's default is a
    proxy that makes no-op spans: not worth even that)."""
    if _trace is None:
        return None
    provider = _trace.get_tracer_provider()
    if isinstance(provider, ProxyTracerProvider) or type(provider).__name__.startswith("NoOp"):
        return None
    return provider.get_tracer(_INSTRUMENTATION)


def start_request(endpoint: str, request_id: str) -> Any | None:
    """The span of one gateway request (None when tracing is off)."""
    tracer = _tracer()
    if tracer is None:
        return None
    return tracer.start_span(
        f"ai.gateway {endpoint}",
        kind=SpanKind.INTERNAL,
        attributes={"ai.endpoint": endpoint, "ai.request_id": request_id},
    )


def end_request(span: Any | None, outcome: Any) -> None:
    if span is None:
        return
    attributes: dict[str, Any] = {
        "ai.status": outcome.status,
        "gen_ai.provider.name": outcome.provider,
        "gen_ai.response.model": outcome.model,
    }
    if outcome.complexity:
        attributes["ai.complexity"] = outcome.complexity
    if outcome.routing is not None:
        attributes["ai.route"] = str(outcome.routing)
    if outcome.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = outcome.usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = outcome.usage.completion_tokens
    if outcome.cost is not None:
        attributes["ai.cost_usd"] = float(outcome.cost)
    if outcome.error_code:
        attributes["error.type"] = outcome.error_code
        span.set_status(Status(StatusCode.ERROR, outcome.error_code))
    span.set_attributes({k: v for k, v in attributes.items() if v not in (None, "")})
    span.end()


def start_attempt(parent: Any | None, operation: str, provider: str, model: str) -> Any | None:
    """A child span of ``parent`` for one upstream attempt (None when ``parent`` is None)."""
    if parent is None:
        return None
    tracer = _tracer()
    if tracer is None:
        return None
    return tracer.start_span(
        f"{operation} {model}",
        context=_trace.set_span_in_context(parent),
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": provider,
            "gen_ai.system": provider,
            "gen_ai.request.model": model,
        },
    )


def end_attempt(span: Any | None, result: Any = None, error: BaseException | None = None) -> None:
    if span is None:
        return
    if error is not None:
        code = getattr(error, "code", type(error).__name__)
        span.set_attribute("error.type", code)
        span.set_status(Status(StatusCode.ERROR, code))
    elif result is not None:
        model = getattr(result, "model", None)
        if model:
            span.set_attribute("gen_ai.response.model", model)
        usage = getattr(result, "usage", None)
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        finish = getattr(result, "finish_reason", None)
        if finish:
            span.set_attribute("gen_ai.response.finish_reasons", [finish])
    span.end()
