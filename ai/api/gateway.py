"""One validated LLM request through the router, as JSON or as a stream, with its usage recorded.

Usage is recorded exactly once per request that reached routing, in a ``finally``: ``ok``,
``error`` (with the error's code) or ``cancelled`` (the client went away). The ledger's
``latency_ms``/``ttft_ms`` are the gateway's own (from routing to the end / to the first delta,
retries included); the response's are the upstream call's (``LLMResponse.latency_ms``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

import ai.usage as usage_ledger
from ai.api.errors import describe, log_exception
from ai.api.sse import DONE_FRAME, SSEResponse, data_frame, delta_frame, error_frame
from ai.api.validation import LLMCall
from ai.exceptions import AIError
from ai.services.base import LLMResponse, LLMStream, Usage
from ai.services.router import get_llm_router
from ai.usage import pricing
from ai.usage.events import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, UsageEvent

logger = logging.getLogger("ai.api")


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
    created_at: datetime = field(default_factory=timezone.now)

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            self.status = STATUS_CANCELLED
            return
        self.status = STATUS_ERROR
        self.error_code = str(describe(exc)[1]["code"])
        if isinstance(exc, AIError):
            self.provider = exc.provider or self.provider
            self.model = exc.model or self.model
            self.upstream_request_id = exc.request_id or ""

    def record(self) -> None:
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
                    latency_ms=(time.perf_counter() - self.started) * 1000,
                    ttft_ms=self.ttft_ms,
                    streamed=self.streamed,
                    error_code=self.error_code,
                    created_at=self.created_at,
                    upstream_request_id=self.upstream_request_id,
                )
            )
        except Exception:  # the ledger must never break a response
            logger.exception("could not record usage for request %s", self.request_id)


async def _cost(provider: str, model: str, usage: Usage) -> Decimal | None:
    try:
        return await pricing.cost_of(provider, model, usage)
    except Exception:
        logger.exception("could not price %s/%s", provider, model)
        return None


def _money(cost: Decimal | None) -> str | None:
    return None if cost is None else format(cost, "f")


def _summary(outcome: Outcome, call: LLMCall) -> dict[str, Any]:
    body: dict[str, Any] = {"id": outcome.request_id}
    if call.complexity is not None:
        body["complexity"] = call.complexity.value
    return body


async def complete(call: LLMCall, outcome: Outcome) -> dict[str, Any]:
    """The JSON body of a non-streaming answer. Raises the AIError of a failed call."""
    router = get_llm_router()
    messages, temperature, max_tokens = call.messages, call.temperature, call.max_tokens
    try:
        targets = await router.plan(call.complexity, provider=call.provider, model=call.model)
        if targets:
            outcome.provider, outcome.model = targets[0].provider, targets[0].model
        response: LLMResponse = await router.run(
            targets,
            lambda p, route: p.complete(messages, route.model, temperature, max_tokens),
            overridden=call.overridden,
        )
        outcome.provider, outcome.model, outcome.usage = (
            response.provider,
            response.model,
            response.usage,
        )
        outcome.upstream_request_id = response.upstream_request_id or ""
        outcome.cost = await _cost(response.provider, response.model, response.usage)
        outcome.status = STATUS_OK
        return {
            **_summary(outcome, call),
            "content": response.content,
            "model": response.model,
            "provider": response.provider,
            "finish_reason": response.finish_reason,
            "usage": response.usage.as_dict(),
            "latency_ms": round(response.latency_ms, 2),
            "cost": _money(outcome.cost),
        }
    except BaseException as exc:
        outcome.failed(exc)
        raise
    finally:
        outcome.record()


class StreamFrames:
    """How :func:`_relay` writes a stream: the gateway's own frames (``ai.api.sse``). Another
    wire format (the OpenAI-compatible endpoint) subclasses it; relaying and recording stay here.
    """

    def delta(self, content: str) -> bytes:
        return delta_frame(content)

    def done(self, done: dict[str, Any]) -> Iterable[bytes]:
        """The frames ending a completed stream; ``done`` is the gateway's done event."""
        return (data_frame(done), DONE_FRAME)

    def error(self, status: int, error: dict[str, Any], request_id: str) -> bytes:
        """The last frame of a stream that failed after its first byte (``status`` is the one
        the error would have had before it)."""
        return error_frame(error["code"], error["message"], request_id)


async def open_stream(
    call: LLMCall, outcome: Outcome, frames: StreamFrames | None = None
) -> SSEResponse:
    """Start the upstream stream (so failures up to its first delta raise here, before any
    byte is sent) and return the response that relays it, written by ``frames``."""
    router = get_llm_router()
    outcome.streamed = True
    try:
        targets = await router.plan(call.complexity, provider=call.provider, model=call.model)
        if targets:
            outcome.provider, outcome.model = targets[0].provider, targets[0].model
        stream = await router.open_stream(
            targets, call.messages, call.temperature, call.max_tokens, overridden=call.overridden
        )
    except BaseException as exc:
        outcome.failed(exc)
        outcome.record()
        raise
    outcome.provider, outcome.model = stream.provider_name, stream.model
    return SSEResponse(_relay(stream, call, outcome, frames or StreamFrames()))


async def _relay(
    stream: LLMStream, call: LLMCall, outcome: Outcome, frames: StreamFrames
) -> AsyncIterator[bytes]:
    outcome.status = STATUS_CANCELLED  # until the stream ends one way or the other
    try:
        async for delta in stream:
            if not delta:
                continue
            if outcome.ttft_ms is None:
                outcome.ttft_ms = (time.perf_counter() - outcome.started) * 1000
            yield frames.delta(delta)
        response = stream.response
        outcome.model, outcome.usage = response.model, response.usage
        outcome.cost = await _cost(response.provider, response.model, response.usage)
        done = {
            "type": "done",
            **_summary(outcome, call),
            "model": response.model,
            "provider": response.provider,
            "finish_reason": response.finish_reason,
            "usage": response.usage.as_dict(),
            "latency_ms": round(response.latency_ms, 2),
            "ttft_ms": None if stream.ttft_ms is None else round(stream.ttft_ms, 2),
            "cost": _money(outcome.cost),
        }
        outcome.status = STATUS_OK
        for frame in frames.done(done):
            yield frame
    except Exception as exc:
        # After the first byte the status line is gone: the error travels as the last frame.
        log_exception(exc, outcome.request_id)
        outcome.failed(exc)
        status, error, _ = describe(exc)
        yield frames.error(status, error, outcome.request_id)
    finally:
        try:
            if not stream.completed:
                await stream.aclose()
        except Exception:  # closing a dead upstream must not mask what happened
            logger.debug("closing the upstream stream of %s failed", outcome.request_id)
        finally:
            if outcome.usage is None:
                outcome.usage = stream.usage_so_far()
            outcome.upstream_request_id = stream.upstream_request_id or outcome.upstream_request_id
            outcome.record()
