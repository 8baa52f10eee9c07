"""The gateway's Prometheus metrics, in a registry of the app's own (``REGISTRY``).

Never the ``prometheus_client`` default registry: a host may expose its own metrics there, and
ours stay out of its way (and its out of ours). ``GET /api/v1/app/ai/metrics`` serves this
registry (``ai.api.metrics``).

Each worker process counts its own requests. With ``PROMETHEUS_MULTIPROC_DIR`` set in the
environment before the process starts, ``prometheus_client`` writes every value to files in that
directory and :func:`exposition` sums them over all the workers that share it (the directory's
other metrics included: it is ``prometheus_client``'s multiprocess mode, see its documentation
for emptying the directory between runs).

Recording costs one dict lookup per label set on the request path: the children that
``.labels()`` returns (a slow call) are kept per label tuple. The number of label sets is
bounded: past ``MAX_SERIES`` of one kind, a new model is counted as ``"other"`` (the model a
request names is the client's choice, and each name would add a series).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from ai.conf import ai_settings

NAMESPACE = "ai_gateway"
#: The most label sets kept per kind of series before new models are counted as "other".
MAX_SERIES = 2000
OTHER = "other"

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "requests",
    "LLM requests that reached routing, by how they ended (outcome ok, error or cancelled; "
    "error_code names the error).",
    ("surface", "provider", "model", "route", "outcome", "error_code"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)
DURATION = Histogram(
    "request_duration_seconds",
    "From routing to the end of the answer (the whole stream for a stream), retries included.",
    ("surface", "provider", "model", "outcome"),
    namespace=NAMESPACE,
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
TTFT = Histogram(
    "time_to_first_token_seconds",
    "Streams: from routing to the first delta.",
    ("surface", "provider", "model"),
    namespace=NAMESPACE,
    buckets=TTFT_BUCKETS,
    registry=REGISTRY,
)
TOKENS = Counter(
    "tokens",
    "Tokens by kind (prompt, completion), as the upstream reported them.",
    ("provider", "model", "kind"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)
COST = Counter(
    "cost_usd",
    "What the answers cost in USD, by the price book (ai.usage.pricing).",
    ("provider", "model"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "requests_in_flight",
    "Requests waiting for an upstream: a JSON answer, or a stream until it has started.",
    ("surface",),
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
STREAMS = Gauge(
    "streams_in_flight",
    "Streams being relayed to a client.",
    ("surface",),
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
RETRIES = Counter(
    "upstream_retries",
    "Upstream attempts retried on the same target, by the error that caused the retry.",
    ("provider", "model", "error_code"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)
FALLBACKS = Counter(
    "upstream_fallbacks",
    "Targets given up for the route's next one, by the target left and its last error.",
    ("provider", "model", "error_code"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)
REFUSALS = Counter(
    "refusals",
    "Requests refused by the gateway's own rate limits (reason rate_limit; limit requests or "
    "tokens) and budgets (reason budget; limit daily or monthly), by the scope that refused "
    "(user or key).",
    ("reason", "limit", "scope"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "response_cache_lookups",
    "Lookups in the exact response cache (AI_CACHE_TTL > 0), by surface and result (hit or "
    "miss). A hit made no upstream call.",
    ("surface", "result"),
    namespace=NAMESPACE,
    registry=REGISTRY,
)


class _Series:
    """The children one finished request updates, found with one lookup."""

    __slots__ = ("completion", "cost", "duration", "prompt", "requests", "ttft")

    def __init__(
        self, surface: str, provider: str, model: str, route: str, outcome: str, code: str
    ) -> None:
        self.requests = REQUESTS.labels(surface, provider, model, route, outcome, code)
        self.duration = DURATION.labels(surface, provider, model, outcome)
        self.ttft = TTFT.labels(surface, provider, model)
        self.prompt = TOKENS.labels(provider, model, "prompt")
        self.completion = TOKENS.labels(provider, model, "completion")
        self.cost = COST.labels(provider, model)


_series: dict[tuple[str, str, str, str, str, str], _Series] = {}
_flights: dict[str, Any] = {}
_streams: dict[str, Any] = {}
_upstream: dict[tuple[Any, str, str, str], Any] = {}


def enabled() -> bool:
    return bool(ai_settings.AI_METRICS_ENABLED)


def request_finished(outcome: Any, elapsed: float) -> None:
    """Count a finished request (``ai.services.gateway.Outcome.record``, which passes
    itself): its outcome, duration, time to first
    token, tokens and cost. ``elapsed`` is in seconds."""
    if not ai_settings.AI_METRICS_ENABLED:
        return
    key = (
        outcome.endpoint,
        outcome.provider,
        outcome.model,
        outcome.complexity or "default",
        outcome.status,
        outcome.error_code,
    )
    series = _series.get(key)
    if series is None:
        if len(_series) >= MAX_SERIES:
            key = (*key[:2], OTHER, *key[3:])
        series = _series.get(key) or _Series(*key)
        _series[key] = series
    series.requests.inc()
    series.duration.observe(elapsed)
    if outcome.ttft_ms is not None:
        series.ttft.observe(outcome.ttft_ms / 1000)
    usage = outcome.usage
    if usage is not None:
        if usage.prompt_tokens:
            series.prompt.inc(usage.prompt_tokens)
        if usage.completion_tokens:
            series.completion.inc(usage.completion_tokens)
    if outcome.cost:
        series.cost.inc(float(outcome.cost))


def _gauge(cache: dict[str, Any], gauge: Gauge, surface: str) -> Any:
    child = cache.get(surface)
    if child is None:
        child = cache[surface] = gauge.labels(surface)
    return child


def request_started(surface: str) -> Any:
    """One more request in flight for ``surface``; pass the result to :func:`leave` when it
    has its answer (None when metrics are off)."""
    if not ai_settings.AI_METRICS_ENABLED:
        return None
    child = _gauge(_flights, IN_FLIGHT, surface)
    child.inc()
    return child


def stream_started(surface: str) -> Any:
    """One more stream being relayed for ``surface``; :func:`leave` when it ends."""
    if not ai_settings.AI_METRICS_ENABLED:
        return None
    child = _gauge(_streams, STREAMS, surface)
    child.inc()
    return child


def leave(child: Any) -> None:
    """The end of what :func:`request_started` or :func:`stream_started` counted."""
    if child is not None:
        child.dec()


def _upstream_child(counter: Counter, provider: str, model: str, code: str) -> Any:
    key = (counter, provider, model, code)
    child = _upstream.get(key)
    if child is None:
        if len(_upstream) >= MAX_SERIES:
            key = (counter, provider, OTHER, code)
        child = _upstream.get(key) or counter.labels(*key[1:])
        _upstream[key] = child
    return child


def retried(provider: str, model: str, error_code: str) -> None:
    """The router retries ``provider``/``model`` after ``error_code``."""
    if ai_settings.AI_METRICS_ENABLED:
        _upstream_child(RETRIES, provider, model, error_code).inc()


def fell_back(provider: str, model: str, error_code: str) -> None:
    """The router leaves ``provider``/``model`` for the route's next target."""
    if ai_settings.AI_METRICS_ENABLED:
        _upstream_child(FALLBACKS, provider, model, error_code).inc()


def refused(reason: str, limit: str, scope: str) -> None:
    """The gateway's own limits refused a request: ``reason`` "rate_limit" (``limit``
    "requests" or "tokens") or "budget" ("daily" or "monthly"); ``scope`` "user" or "key"."""
    if ai_settings.AI_METRICS_ENABLED:
        REFUSALS.labels(reason, limit, scope).inc()


def cache_looked_up(surface: str, result: str) -> None:
    """The response cache was asked for a request of ``surface``: ``result`` "hit" or "miss"."""
    if ai_settings.AI_METRICS_ENABLED:
        CACHE_LOOKUPS.labels(surface, result).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(accept: str | None = None) -> tuple[bytes, str]:
    """The metrics as the scraper asked for them (``Accept``: the Prometheus text format, or
    OpenMetrics), and their content type. In multiprocess mode, summed over the workers."""
    encoder, content_type = choose_encoder(accept or "")
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return encoder(registry), content_type
    return encoder(REGISTRY), content_type
