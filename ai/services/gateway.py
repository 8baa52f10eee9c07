"""One validated LLM request through the router, as JSON or as a stream, with its usage recorded.

Usage is recorded exactly once per request that reached routing, in a ``finally``: ``ok``,
``error`` (with the error's code) or ``cancelled`` (the client went away). The ledger's
``latency_ms``/``ttft_ms`` are the gateway's own (from routing to the end / to the first delta,
retries included); the response's are the upstream call's (``LLMResponse.latency_ms``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.utils import timezone

import ai.usage as usage_ledger
from ai import deferred, governance, metrics, request_log, tracing
from ai.exceptions import AIError
from ai.keys import allowed_targets, current_key, current_key_id
from ai.providers.base import LLMResponse, LLMStream, Message, ModelComplexity, Usage
from ai.providers.parts import NO_OPTIONS, ChatOptions, ToolCall, ToolCallDelta
from ai.services import response_cache
from ai.services.classifier import Classification, classify
from ai.services.router import (
    NOT_ALLOWED,
    ROUTE_HEADER,
    RouteTrace,
    fit_options,
    get_llm_router,
)
from ai.usage import pricing
from ai.usage.events import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, UsageEvent

#: The status of an attempt stopped by stale credentials (``ai.deferred``): not recorded, the
#: request is served anew.
SERVED_ANEW = "served-anew"

logger = logging.getLogger("ai.api")


@dataclass(frozen=True, slots=True)
class LLMCall:
    """A validated LLM request, whatever endpoint it came from."""

    messages: tuple[Message, ...]
    provider: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    #: None: the default provider/model (completions, chat); else the routed complexity.
    complexity: ModelComplexity | None = None
    #: Classify the request (``ai.services.classifier``) to pick its complexity ("auto").
    auto: bool = False
    #: What the classifier decided, once it has (``complexity`` is then its class).
    classification: Classification | None = None
    #: Tools, response format, stop sequences... (``ai.providers.parts``).
    options: ChatOptions = NO_OPTIONS

    @property
    def overridden(self) -> bool:
        return bool(self.provider or self.model)


class Frames(Protocol):
    """How a stream is written on the wire (``ai.api.streaming``): the relay here decides what
    happens, the frames say how it looks."""

    def delta(self, content: str) -> bytes: ...

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        """A piece of a streamed tool call."""

    def done(self, done: dict[str, Any]) -> Any:
        """The frames (an iterable of bytes) ending a completed stream."""

    def failure(self, exc: BaseException, request_id: str) -> bytes:
        """The last frame of a stream that failed after its first byte."""


def error_code(exc: BaseException) -> str:
    """The ledger's ``error_code`` for a failure."""
    return exc.code if isinstance(exc, AIError) else "internal_error"


@dataclass(slots=True)
class Outcome:
    """What the usage record needs, filled in as the request progresses."""

    request_id: str
    endpoint: str
    user_id: int | None
    complexity: str
    started: float
    status: str = STATUS_ERROR
    error_code: str = ""
    provider: str = ""
    model: str = ""
    usage: Usage | None = None
    cost: Decimal | None = None
    ttft_ms: float | None = None
    streamed: bool = False
    upstream_request_id: str = ""
    #: The model asked for, and the one the cost is that of when the reported ``model`` has no
    #: price (else "").
    requested_model: str = ""
    priced_model: str = ""
    created_at: datetime = field(default_factory=timezone.now)
    #: The gateway API key the request came with (``ai.keys.current_key``); None for a JWT.
    api_key_id: int | None = field(default_factory=current_key_id)
    #: What the request's rate limits and budgets took (``ai.governance.admit``), given back by
    #: ``governance.settle``; its ``headers`` go on the response.
    admission: governance.Admission | None = None
    #: ``"hit"`` or ``"miss"`` when the response cache is on (``ai.services.response_cache``),
    #: else "": the response's ``x-ai-cache`` header.
    cache: str = ""
    #: How the request was routed (``x-ai-route`` and the ledger's ``routing``), once planned.
    routing: RouteTrace | None = None
    #: The request's OpenTelemetry span (``ai.tracing``; None when tracing is off).
    span: Any = None
    #: The prompt, only when ``AI_LOG_PROMPTS`` asks for it in the request log.
    prompt: str | None = None

    def __post_init__(self) -> None:
        self.span = tracing.start_request(self.endpoint, self.request_id)

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            self.status = STATUS_CANCELLED
            return
        if isinstance(exc, deferred.StaleCredentials):
            self.status = SERVED_ANEW
            return
        self.status = STATUS_ERROR
        self.error_code = error_code(exc)
        if isinstance(exc, AIError):
            self.provider = exc.provider or self.provider
            self.model = exc.model or self.model
            self.upstream_request_id = exc.request_id or ""

    def record(self) -> None:
        if self.status == SERVED_ANEW:  # not a request of its own: the one served anew is
            tracing.end_request(self.span, self)
            return
        elapsed = time.perf_counter() - self.started
        try:
            metrics.request_finished(self, elapsed)
        except Exception:  # nor must the metrics
            logger.exception("could not count request %s in the metrics", self.request_id)
        try:
            usage_ledger.record_usage(
                UsageEvent(
                    request_id=self.request_id,
                    endpoint=self.endpoint,
                    status=self.status,
                    user_id=self.user_id,
                    provider=self.provider,
                    model=self.model,
                    complexity=self.complexity,
                    usage=self.usage,
                    cost=self.cost,
                    latency_ms=elapsed * 1000,
                    ttft_ms=self.ttft_ms,
                    streamed=self.streamed,
                    error_code=self.error_code,
                    created_at=self.created_at,
                    upstream_request_id=self.upstream_request_id,
                    requested_model=self.requested_model,
                    priced_model=self.priced_model,
                    api_key_id=self.api_key_id,
                    routing="" if self.routing is None else str(self.routing),
                )
            )
        except Exception:  # the ledger must never break a response
            logger.exception("could not record usage for request %s", self.request_id)
        request_log.log(self, elapsed)
        tracing.end_request(self.span, self)


async def price(outcome: Outcome, response: LLMResponse) -> None:
    """The response's cost on ``outcome``: by the model that answered or, when that one has no
    price, by the model asked for (``outcome.priced_model`` then names it)."""
    outcome.requested_model = response.requested_model
    try:
        outcome.cost, outcome.priced_model = await pricing.cost_with_fallback(
            response.provider, response.model, response.usage, None, response.requested_model
        )
    except Exception:
        logger.exception("could not price %s/%s", response.provider, response.model)


def _allowed(call: LLMCall, targets: list[Any]) -> list[Any]:
    """The targets the request's API key allows (all without a key); 403 when none is, before
    any upstream call."""
    complexity = call.complexity.value if call.complexity is not None else None
    return allowed_targets(
        current_key(), targets, complexity=complexity, overridden=call.overridden
    )


def tool_calls_json(calls: tuple[ToolCall, ...]) -> list[dict[str, str]]:
    """Tool calls in the gateway's own JSON (``id``, ``name``, ``arguments`` as JSON text)."""
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]


def _add_extras(answer: dict[str, Any], response: LLMResponse) -> None:
    """What only some answers have, in the gateway's JSON answer or done event: tool calls,
    a search model's citations, the stop sequence that ended it."""
    if response.tool_calls:
        answer["tool_calls"] = tool_calls_json(response.tool_calls)
    if response.citations:
        answer["citations"] = list(response.citations)
    if response.stop_sequence is not None:
        answer["stop_sequence"] = response.stop_sequence


def money(cost: Decimal | None) -> str | None:
    return None if cost is None else format(cost, "f")


def _summary(outcome: Outcome, call: LLMCall) -> dict[str, Any]:
    body: dict[str, Any] = {"id": outcome.request_id}
    if call.complexity is not None:
        body["complexity"] = call.complexity.value
    if call.classification is not None:
        body["routing"] = call.classification.as_dict()
    return body


def classified(call: LLMCall) -> LLMCall:
    """``call`` with the complexity the classifier picks when it asks for "auto" (its messages
    and whether it offers tools), else ``call`` itself. Local and pure: no upstream call."""
    if not call.auto or call.classification is not None:
        return call
    classification = classify(call.messages, tools=bool(call.options.tools))
    return dataclasses.replace(
        call, complexity=classification.complexity, classification=classification
    )


def _classified(call: LLMCall, outcome: Outcome) -> LLMCall:
    """:func:`classified`, the class recorded on ``outcome`` for the ledger."""
    call = classified(call)
    if call.classification is not None:
        outcome.complexity = call.classification.complexity.value
    return call


def _route_head(call: LLMCall) -> str:
    if call.overridden:
        return "route=override"
    if call.complexity is None:
        return "route=default"
    if call.classification is not None:
        return f"complexity=auto:{call.complexity.value}"
    return f"complexity={call.complexity.value}"


def route_header(response: Any, outcome: Outcome) -> Any:
    """``response`` with the ``x-ai-route`` header saying how the request was routed."""
    if outcome.routing is not None:
        response[ROUTE_HEADER] = str(outcome.routing)
    return response


def explain(exc: BaseException, outcome: Outcome) -> None:
    # An error answer says how the request was routed too (ai.api.errors adds exc.headers).
    if isinstance(exc, AIError) and outcome.routing is not None:
        exc.headers = {**(getattr(exc, "headers", None) or {}), ROUTE_HEADER: str(outcome.routing)}


async def admitted(router: Any, call: LLMCall, outcome: Outcome) -> tuple[LLMCall, list[Any]]:
    """Before any upstream call: the complexity (``auto`` classified), the route's targets the
    caller's key allows, and the admission of the caller's rate limits and budgets."""
    try:
        call = _classified(call, outcome)
        targets = await router.plan(call.complexity, provider=call.provider, model=call.model)
        outcome.routing = trace = RouteTrace(_route_head(call), outcome.span)
        if request_log.prompts_logged():
            outcome.prompt = "\n".join(f"{m.role.value}: {m.content}" for m in call.messages)
        try:
            allowed = _allowed(call, targets)
        except AIError:
            for target in targets:
                trace.note(target, NOT_ALLOWED)
            raise
    except Exception:
        # Refused before admission: by credentials that are still good (ai.deferred), or the
        # request is served anew.
        await deferred.confirm()
        raise
    if len(allowed) < len(targets):
        for target in targets:
            if target not in allowed:
                trace.note(target, NOT_ALLOWED)
    targets = allowed
    if targets:
        outcome.provider, outcome.model = targets[0].provider, targets[0].model
    await governance.admit(call, outcome, targets)
    return call, targets


def _cache_hit(outcome: Outcome, cached: dict[str, Any]) -> dict[str, Any]:
    """A stored answer as this request's: its own id, nothing spent upstream. The ledger row is
    ok at cost 0 with no tokens, and ``upstream_request_id`` "cache-hit" marks it."""
    outcome.provider, outcome.model = cached["provider"], cached["model"]
    outcome.cost, outcome.upstream_request_id = Decimal(0), response_cache.HIT_MARKER
    outcome.status, outcome.cache = STATUS_OK, response_cache.HIT
    return {"id": outcome.request_id, **cached, "latency_ms": 0.0, "cost": money(outcome.cost)}


async def complete(call: LLMCall, outcome: Outcome, cache: str | None = None) -> dict[str, Any]:
    """The JSON body of a non-streaming answer. Raises the AIError of a failed call.

    ``cache`` is the request's ``x-ai-cache`` choice (None, ``"use"`` or ``"skip"``). A cache
    hit is looked up once the request is admitted: it counts against the rate limits like any
    request, and gives back its token and budget reservations (it spent nothing)."""
    router = get_llm_router()
    messages, temperature, max_tokens = call.messages, call.temperature, call.max_tokens
    options = call.options
    flight = metrics.request_started(outcome.endpoint)
    try:
        call, targets = await admitted(router, call, outcome)
        cache_key = response_cache.key_for(call, targets, outcome.user_id, cache)
        if cache_key is not None:
            cached = await response_cache.lookup(cache_key)
            metrics.cache_looked_up(
                outcome.endpoint, response_cache.MISS if cached is None else response_cache.HIT
            )
            if cached is not None:
                return _cache_hit(outcome, cached)
        if response_cache.ttl():
            outcome.cache = response_cache.MISS
        response: LLMResponse = await router.run(
            targets,
            lambda p, route: p.complete(
                messages,
                route.model,
                temperature,
                max_tokens,
                fit_options(p, options, outcome.routing),
            ),
            overridden=call.overridden,
            trace=outcome.routing,
        )
        outcome.provider, outcome.model, outcome.usage = (
            response.provider,
            response.model,
            response.usage,
        )
        outcome.upstream_request_id = response.upstream_request_id or ""
        await price(outcome, response)
        outcome.status = STATUS_OK
        body = {
            **_summary(outcome, call),
            "content": response.content,
            "model": response.model,
            "provider": response.provider,
            "finish_reason": response.finish_reason,
            "usage": response.usage.as_dict(),
            "latency_ms": round(response.latency_ms, 2),
            "cost": money(outcome.cost),
        }
        _add_extras(body, response)
        if cache_key is not None:
            await response_cache.store(cache_key, body)
        return body
    except BaseException as exc:
        outcome.failed(exc)
        explain(exc, outcome)
        raise
    finally:
        metrics.leave(flight)
        outcome.record()
        await governance.settle(outcome)


async def open_stream(call: LLMCall, outcome: Outcome, frames: Frames) -> AsyncIterator[bytes]:
    """Start the upstream stream (so failures up to its first delta raise here, before any
    byte is sent) and return the frames that relay it, written by ``frames``."""
    router = get_llm_router()
    outcome.streamed = True
    flight = metrics.request_started(outcome.endpoint)
    try:
        call, targets = await admitted(router, call, outcome)
        stream = await router.open_stream(
            targets,
            call.messages,
            call.temperature,
            call.max_tokens,
            call.options,
            overridden=call.overridden,
            trace=outcome.routing,
        )
    except BaseException as exc:
        outcome.failed(exc)
        explain(exc, outcome)
        outcome.record()
        await governance.settle(outcome)
        raise
    finally:
        metrics.leave(flight)
    outcome.provider, outcome.model = stream.provider_name, stream.model
    # The relay needs the call's routing, not its messages: a held stream lets the chat go;
    # nor the answer's text (each delta is relayed as it comes), only its length.
    stream.forget_content()
    return _relay(stream, dataclasses.replace(call, messages=()), outcome, frames)


async def _relay(
    stream: LLMStream, call: LLMCall, outcome: Outcome, frames: Frames
) -> AsyncIterator[bytes]:
    outcome.status = STATUS_CANCELLED  # until the stream ends one way or the other
    relaying = metrics.stream_started(outcome.endpoint)
    try:
        async for delta in stream:
            if not delta:
                continue
            if outcome.ttft_ms is None:
                outcome.ttft_ms = (time.perf_counter() - outcome.started) * 1000
            if type(delta) is str:
                yield frames.delta(delta)
            else:
                yield frames.tool_call(delta)
        response = stream.response
        outcome.model, outcome.usage = response.model, response.usage
        await price(outcome, response)
        done = {
            "type": "done",
            **_summary(outcome, call),
            "model": response.model,
            "provider": response.provider,
            "finish_reason": response.finish_reason,
            "usage": response.usage.as_dict(),
            "latency_ms": round(response.latency_ms, 2),
            "ttft_ms": None if stream.ttft_ms is None else round(stream.ttft_ms, 2),
            "cost": money(outcome.cost),
        }
        _add_extras(done, response)
        outcome.status = STATUS_OK
        # The end frames go out together: one write, not one per frame.
        yield b"".join(frames.done(done))
    except Exception as exc:
        # After the first byte the status line is gone: the error travels as the last frame.
        outcome.failed(exc)
        yield frames.failure(exc, outcome.request_id)
    finally:
        try:
            if not stream.completed:
                await stream.aclose()
        except Exception:  # closing a dead upstream must not mask what happened
            logger.debug("closing the upstream stream of %s failed", outcome.request_id)
        finally:
            metrics.leave(relaying)
            if outcome.usage is None:
                outcome.usage = stream.usage_so_far()
            outcome.upstream_request_id = stream.upstream_request_id or outcome.upstream_request_id
            outcome.record()
            await governance.settle(outcome)
