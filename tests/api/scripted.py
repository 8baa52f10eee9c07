"""A test-only provider whose behaviour is scripted by directives in the last user message.

==========================  ===================================================================
directive                   effect
==========================  ===================================================================
``[[raise:CODE]]``          raise the AIError with that ``code`` before any output (complete()
                            and stream start); ``retry_after=S`` adds a Retry-After
``[[midstream:CODE]]``      stream: yield two deltas, then raise that error
``[[leak]]``                raise a RuntimeError whose text holds ``LEAKED_SECRET``
``[[slow]]``                stream: 200 deltas, 50 ms apart; complete(): answers after 10 s
                            (cancellation tests)
==========================  ===================================================================

Otherwise it answers ``"scripted answer to: <prompt>"`` in three deltas. ``CLOSED`` collects the
request text of every stream whose generator was closed or finished (its ``finally`` ran).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from ai import exceptions
from ai.providers.base import (
    BaseLLMProvider,
    ChatRequest,
    LLMResponse,
    LLMStream,
    Role,
    Usage,
)

LEAKED_SECRET = "sk-live-THIS-MUST-NEVER-APPEAR"
CLOSED: list[str] = []

ERRORS: dict[str, type[exceptions.AIError]] = {
    cls.code: cls
    for cls in (
        exceptions.UpstreamError,
        exceptions.UpstreamAuthenticationError,
        exceptions.UpstreamPermissionError,
        exceptions.UpstreamBadRequestError,
        exceptions.ModelNotFoundError,
        exceptions.RateLimitedError,
        exceptions.UpstreamTimeoutError,
        exceptions.UpstreamConnectionError,
        exceptions.UpstreamUnavailableError,
        exceptions.UpstreamStreamError,
    )
}

_DIRECTIVE = re.compile(r"\[\[(\w+)(?::(\w+))?((?:\s+\w+=[\w.]+)*)\]\]")


def _prompt(request: ChatRequest) -> str:
    return next((m.content for m in reversed(request.messages) if m.role is Role.USER), "")


def _directive(request: ChatRequest) -> tuple[str, str, dict[str, str]] | None:
    match = _DIRECTIVE.search(_prompt(request))
    if not match:
        return None
    options = dict(pair.split("=") for pair in match.group(3).split())
    return match.group(1), match.group(2) or "", options


class ScriptedProvider(BaseLLMProvider):
    name = "scripted"
    default_model = "scripted-1"

    def _error(self, code: str, options: dict[str, str], model: str) -> exceptions.AIError:
        retry_after = float(options["retry_after"]) if "retry_after" in options else None
        return ERRORS[code](
            provider=self.name, model=model, upstream_status=500, retry_after=retry_after
        )

    def _maybe_fail(self, request: ChatRequest) -> None:
        directive = _directive(request)
        if directive is None:
            return
        kind, code, options = directive
        if kind == "raise":
            raise self._error(code, options, request.model)
        if kind == "leak":
            raise RuntimeError(f"upstream said: Authorization: Bearer {LEAKED_SECRET}")

    @staticmethod
    def _deltas(request: ChatRequest) -> list[str]:
        return ["scripted answer", " to: ", _prompt(request)]

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        self._maybe_fail(request)
        directive = _directive(request)
        if directive and directive[0] == "slow":
            await asyncio.sleep(10)
        text = "".join(self._deltas(request))
        return LLMResponse(
            content=text,
            model=request.model,
            provider=self.name,
            usage=Usage.of(7, 3),
            finish_reason="stop",
            latency_ms=0.0,
        )

    async def _stream_chunks(self, request: ChatRequest, stream: LLMStream) -> AsyncIterator[str]:
        try:
            self._maybe_fail(request)
            directive = _directive(request)
            if directive and directive[0] == "slow":
                for i in range(200):
                    await asyncio.sleep(0.05)
                    yield f"w{i} "
            elif directive and directive[0] == "midstream":
                yield "partial "
                yield "answer "
                raise self._error(directive[1], directive[2], request.model)
            else:
                for delta in self._deltas(request):
                    yield delta
            stream.usage = Usage.of(7, 3)
            stream.finish_reason = "stop"
        finally:
            CLOSED.append(_prompt(request))
