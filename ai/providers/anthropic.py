"""Anthropic (Claude) through the official ``anthropic`` SDK (2.x), Messages API.

The SDK makes every call and raises its own status errors, but bodies are read raw: the JSON
with orjson and the SSE stream with :func:`ai.providers._sse.aiter_sse`, because building the
SDK's pydantic event objects for every chunk costs more than the rest of the gateway. Wire facts
this relies on (docs/reference provider-sdks.md §2.2, §3.2): the system prompt is its own
``system`` parameter; ``max_tokens`` is required; ``temperature`` is no longer a ``create()``
argument in 2.x but still a field of the request body; a stream reports input usage on
``message_start`` and the cumulative output on ``message_delta``; errors inside a 200 stream
arrive as ``event: error``; a mid-stream drop surfaces as a raw ``httpx2`` error, not an SDK
one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import orjson
from django.core.exceptions import ImproperlyConfigured

from ai._compat import anthropic as anthropic_compat
from ai._compat.httpx2 import LeanSend
from ai.conf import ai_settings, setting_hint
from ai.exceptions import (
    AIError,
    ProviderNotConfiguredError,
    UpstreamConnectionError,
    UpstreamStreamError,
    UpstreamTimeoutError,
)
from ai.providers._http import pool_limits, transport_error
from ai.providers._loop import PerLoop, PerLoopClient
from ai.providers._prepared import sdk_post
from ai.providers._sse import aiter_sse
from ai.providers.base import (
    USAGE_ESTIMATED,
    BaseLLMProvider,
    ChatRequest,
    FinishReason,
    LLMResponse,
    LLMStream,
    Role,
    Usage,
    estimate_tokens,
    split_system,
)
from ai.providers.errors import status_error

#: Passed explicitly: with ``base_url=None`` the SDK would read ``ANTHROPIC_BASE_URL``.
DEFAULT_BASE_URL = "https://api.anthropic.com"
#: ``max_tokens`` is required by the Messages API; used when a request sets none.
DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS = {
    "end_turn": FinishReason.STOP.value,
    "stop_sequence": FinishReason.STOP.value,
    # The server paused a long turn (server tools); for a plain chat it is a normal stop.
    "pause_turn": FinishReason.STOP.value,
    "max_tokens": FinishReason.LENGTH.value,
    "model_context_window_exceeded": FinishReason.LENGTH.value,
    "tool_use": FinishReason.TOOL_CALLS.value,
    "refusal": FinishReason.CONTENT_FILTER.value,
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "end_turn", FinishReason.STOP.value)


def usage_from(data: dict[str, Any]) -> Usage:
    """Normalise Anthropic usage: the prompt is ``input_tokens`` plus both cache counts (the
    API reports them apart); ``output_tokens`` already includes thinking tokens."""
    read = data.get("cache_read_input_tokens") or 0
    prompt = (data.get("input_tokens") or 0) + (data.get("cache_creation_input_tokens") or 0)
    details = data.get("output_tokens_details") or {}
    return Usage.of(
        prompt + read,
        data.get("output_tokens") or 0,
        cached=read,
        reasoning=details.get("thinking_tokens") or 0,
    )


def estimated_usage(request: ChatRequest, content: str) -> Usage:
    prompt = estimate_tokens("".join(m.content for m in request.messages))
    return Usage.of(prompt, estimate_tokens(content), source=USAGE_ESTIMATED)


class _AioHttpClient(LeanSend, anthropic.DefaultAioHttpClient):
    pass


class _Httpx2Client(LeanSend, anthropic.DefaultAsyncHttpxClient):
    pass


def _http_client(timeout: float) -> httpx2.AsyncClient:
    transport = ai_settings.AI_HTTP_TRANSPORT
    # trust_env=False: no proxy / netrc / SSL settings picked up from the environment.
    # follow_redirects=False: the Messages API does not redirect, and a redirect must not
    # carry the key elsewhere.
    options: dict[str, Any] = {
        "limits": pool_limits(),
        "timeout": timeout,
        "trust_env": False,
        "follow_redirects": False,
    }
    if transport == "httpx2":
        return _Httpx2Client(**options)
    if transport == "aiohttp":
        return _AioHttpClient(**options)
    raise ImproperlyConfigured(
        f"AI_HTTP_TRANSPORT is {transport!r}; set it to 'httpx2' or 'aiohttp'."
    )


class _StreamState:
    __slots__ = ("stopped", "usage")

    def __init__(self) -> None:
        self.usage: dict[str, Any] = {}
        self.stopped = False


class AnthropicProvider(PerLoopClient[anthropic.AsyncAnthropic], BaseLLMProvider):
    name = "anthropic"
    default_model = "claude-sonnet-4-5-20250929"
    api_key_setting = "ANTHROPIC_API_KEY"

    def __init__(self) -> None:
        self._clients: PerLoop[anthropic.AsyncAnthropic] = PerLoop(self._make_client)

    # -- client ----------------------------------------------------------------------------------

    def _make_client(self) -> anthropic.AsyncAnthropic:
        api_key = ai_settings.ANTHROPIC_API_KEY
        if not api_key:
            raise ProviderNotConfiguredError(
                f"The {self.name} provider is not configured: "
                f"{setting_hint(self.api_key_setting)}.",
                provider=self.name,
            )
        timeout = float(ai_settings.AI_REQUEST_TIMEOUT)
        client = anthropic.AsyncAnthropic(
            api_key=api_key,  # explicit: no env vars, on-disk profiles or workload identity
            base_url=ai_settings.ANTHROPIC_BASE_URL or DEFAULT_BASE_URL,
            timeout=timeout,
            max_retries=0,  # the router owns retries
            http_client=_http_client(timeout),
            open_telemetry=False,  # no spans per call, and no ANTHROPIC_OPEN_TELEMETRY* env
        )
        # The constructor merges ANTHROPIC_CUSTOM_HEADERS from the environment into every
        # request, with no opt-out; we passed no default headers, so drop whatever it added.
        anthropic_compat.forget_environment(client)
        return client

    # -- calls -----------------------------------------------------------------------------------

    @staticmethod
    def _params(request: ChatRequest) -> dict[str, Any]:
        system, conversation = split_system(request.messages)
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [
                {"role": "assistant" if m.role is Role.ASSISTANT else "user", "content": m.content}
                for m in conversation
            ],
        }
        if system is not None:
            params["system"] = system
        if request.temperature is not None:
            # anthropic 2.x removed `temperature` from create(); the Messages API body still
            # takes it (whether the live API still honours it is unverified: reference §2.2).
            params["temperature"] = request.temperature
        return params

    async def _post(self, request: ChatRequest, *, stream: bool) -> httpx2.Response:
        """The call, made by the SDK (auth and version headers, timeout; status and connection
        errors raised as ``anthropic`` exceptions), returning the raw response. Through the
        SDK's generic ``post`` rather than ``messages.create``, which walks every message
        through its typed transform (gateway CPU per request at c=50, in-process against the
        fake: 2.2 ms this way, 3.2-3.8 ms through ``messages.with_raw_response.create``)."""
        params = self._params(request)
        if stream:
            params["stream"] = True
        return await sdk_post(
            self.client,
            anthropic_compat.PREPARED,
            "/v1/messages",
            orjson.dumps(params),
            stream=stream,
        )

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        raw = await self._post(request, stream=False)
        body = orjson.loads(raw.content)
        content = "".join(
            block.get("text") or ""
            for block in body.get("content") or ()
            if block.get("type") == "text"
        )
        usage = body.get("usage")
        return LLMResponse(
            content=content,
            model=body.get("model") or request.model,
            provider=self.name,
            usage=usage_from(usage) if usage else estimated_usage(request, content),
            finish_reason=finish_reason(body.get("stop_reason")),
            latency_ms=0.0,
            upstream_request_id=raw.headers.get("request-id") or body.get("id"),
        )

    async def _stream_chunks(self, request: ChatRequest, stream: LLMStream) -> AsyncIterator[str]:
        state = _StreamState()
        try:
            # Status errors raise here, before any delta; the body is closed in `finally`, also
            # on aclose() or cancellation.
            response = await self._post(request, stream=True)
            try:
                stream.upstream_request_id = response.headers.get("request-id")
                async for event, data in aiter_sse(response.aiter_bytes()):
                    if event == "content_block_delta":
                        delta = orjson.loads(data).get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            yield delta["text"]
                    else:
                        self._on_event(event, data, stream, state)
            finally:
                await response.aclose()
        except AIError:
            raise
        except Exception as exc:
            # Translated here rather than by LLMStream to attach the request id of a stream that
            # had started (a mid-stream drop arrives as a bare httpx2 error).
            error = self.translate_error(exc, model=stream.model)
            error.request_id = error.request_id or stream.upstream_request_id
            raise error from exc
        if not state.stopped:
            raise UpstreamConnectionError(
                "The anthropic stream ended before message_stop.",
                provider=self.name,
                model=stream.model,
                request_id=stream.upstream_request_id,
            )
        stream.finish_reason = stream.finish_reason or FinishReason.STOP.value

    def _on_event(self, event: str, data: bytes, stream: LLMStream, state: _StreamState) -> None:
        """Record what a non-content event reports on the stream (ping and others are ignored)."""
        if event == "message_start":
            message = orjson.loads(data).get("message") or {}
            stream.model = message.get("model") or stream.model
            stream.upstream_request_id = stream.upstream_request_id or message.get("id")
            if message.get("usage"):
                state.usage = dict(message["usage"])
                stream.usage = usage_from(state.usage)
        elif event == "message_delta":
            payload = orjson.loads(data)
            stream.finish_reason = finish_reason((payload.get("delta") or {}).get("stop_reason"))
            if payload.get("usage"):  # cumulative; input counts may be repeated here
                state.usage = {**state.usage, **payload["usage"]}
                stream.usage = usage_from(state.usage)
        elif event == "message_stop":
            state.stopped = True
        elif event == "error":
            raise self._in_band_error(data, stream)

    # -- errors ----------------------------------------------------------------------------------

    def _in_band_error(self, data: bytes, stream: LLMStream) -> UpstreamStreamError:
        try:
            kind = (orjson.loads(data).get("error") or {}).get("type") or "unknown"
        except (orjson.JSONDecodeError, AttributeError):
            kind = "unknown"
        return UpstreamStreamError(
            f"Anthropic reported an error inside the stream ({_safe_type(kind)}).",
            provider=self.name,
            model=stream.model,
            request_id=stream.upstream_request_id,
        )

    def translate_error(self, exc: BaseException, *, model: str | None = None) -> AIError:
        if isinstance(exc, anthropic.APIStatusError):
            return self._status_error(exc, model)
        if isinstance(exc, anthropic.APITimeoutError):
            return UpstreamTimeoutError(
                "Anthropic did not answer in time.", provider=self.name, model=model
            )
        found = transport_error(exc, self.name, model)
        if found is not None:
            return found
        if isinstance(exc, anthropic.APIConnectionError):
            return UpstreamConnectionError(
                "Could not connect to Anthropic.", provider=self.name, model=model
            )
        return super().translate_error(exc, model=model)

    def _status_error(self, exc: anthropic.APIStatusError, model: str | None) -> AIError:
        kind = _safe_type(exc.type or "unknown")
        if exc.status_code == 200:  # an `event: error` read by the SDK's own stream parser
            return UpstreamStreamError(
                f"Anthropic reported an error inside the stream ({kind}).",
                provider=self.name,
                model=model,
                request_id=exc.request_id,
            )
        return status_error(
            exc.status_code,
            provider=self.name,
            vendor="Anthropic",
            model=model,
            label=kind,
            detail=str(exc.api_message or ""),
            request_id=exc.request_id,
            headers=exc.response.headers,
            secrets=(ai_settings.ANTHROPIC_API_KEY,),
        )


def _safe_type(kind: str) -> str:
    """The vendor's error type, kept only if it looks like one (it is echoed to clients)."""
    return kind if re.fullmatch(r"[a-z_]{1,64}", kind) else "unknown"
