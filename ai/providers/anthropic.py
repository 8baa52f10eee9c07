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

Requests and responses are translated to and from the Messages wire in
:mod:`ai.providers._anthropic_wire` (blocks, tools, structured output as a forced tool).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import orjson
from django.core.exceptions import ImproperlyConfigured

from ai._compat import aiohttp_body
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
from ai.providers import _anthropic_wire as wire
from ai.providers._http import client_timeout, json_body, pool_limits, transport_error
from ai.providers._loop import PerLoop, PerLoopClient
from ai.providers._prepared import sdk_post
from ai.providers._sse import aiter_sse
from ai.providers.base import (
    BaseLLMProvider,
    ChatRequest,
    FinishReason,
    LLMResponse,
    LLMStream,
    Usage,
)
from ai.providers.errors import status_error
from ai.providers.messages import estimated_usage
from ai.providers.parts import NO_OPTIONS, ChatOptions, ToolCallDelta

#: Passed explicitly: with ``base_url=None`` the SDK would read ``ANTHROPIC_BASE_URL``.
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = wire.DEFAULT_MAX_TOKENS

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
    API reports them apart), the cache writes kept apart too (priced above input), with the
    share kept an hour (``cache_creation.ephemeral_1h_input_tokens``); ``output_tokens``
    already includes thinking tokens."""
    read = data.get("cache_read_input_tokens") or 0
    written = data.get("cache_creation_input_tokens") or 0
    prompt = (data.get("input_tokens") or 0) + written
    details = data.get("output_tokens_details") or {}
    creation = data.get("cache_creation") or {}
    return Usage.of(
        prompt + read,
        data.get("output_tokens") or 0,
        cached=read,
        reasoning=details.get("thinking_tokens") or 0,
        cache_write=written,
        cache_write_1h=creation.get("ephemeral_1h_input_tokens") or 0,
    )


class _AioHttpClient(LeanSend, anthropic.DefaultAioHttpClient):
    pass


class _Httpx2Client(LeanSend, anthropic.DefaultAsyncHttpxClient):
    pass


def _http_client(timeout: httpx2.Timeout) -> httpx2.AsyncClient:
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


#: The content block of the forced JSON tool (structured output): its input is the answer's text.
_JSON_ANSWER = -1


class _StreamState:
    __slots__ = ("blocks", "calls", "forced", "stopped", "usage")

    def __init__(self, forced: str | None) -> None:
        self.usage: dict[str, Any] = {}
        self.stopped = False
        #: The forced JSON tool's name (structured output), whose input is the answer's text.
        self.forced = forced
        #: Content block index -> the tool call's ordinal, or _JSON_ANSWER.
        self.blocks: dict[int, int] = {}
        self.calls = 0


class AnthropicProvider(PerLoopClient[anthropic.AsyncAnthropic], BaseLLMProvider):
    name = "anthropic"
    default_model = "claude-sonnet-4-5-20250929"
    api_key_setting = "ANTHROPIC_API_KEY"
    supported_options = wire.SUPPORTED_OPTIONS

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
        timeout = client_timeout()
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

    def check_options(self, options: ChatOptions) -> None:
        super().check_options(options)
        wire.check_options(options, self.name)

    async def _post(self, request: ChatRequest, *, stream: bool) -> httpx2.Response:
        """The call, made by the SDK (auth and version headers, timeout; status and connection
        errors raised as ``anthropic`` exceptions), returning the raw response. Through the
        SDK's generic ``post`` rather than ``messages.create``, which walks every message
        through its typed transform (gateway CPU per request at c=50, in-process against the
        fake: 2.2 ms this way, 3.2-3.8 ms through ``messages.with_raw_response.create``)."""
        params = wire.request_body(request)
        if stream:
            params["stream"] = True
        return await sdk_post(
            self.client,
            anthropic_compat.PREPARED,
            "/v1/messages",
            json_body(params),
            stream=stream,
        )

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        raw = await self._post(request, stream=False)
        body = orjson.loads(raw.content)
        content, tool_calls, as_json = wire.parse_content(
            body.get("content") or [], wire.json_tool(request.options)
        )
        usage = body.get("usage")
        # Structured output came as the forced tool's call: for the caller, a normal stop.
        reason = FinishReason.STOP.value if as_json else finish_reason(body.get("stop_reason"))
        return LLMResponse(
            content=content,
            model=body.get("model") or request.model,
            provider=self.name,
            usage=usage_from(usage) if usage else estimated_usage(request, content),
            finish_reason=reason,
            latency_ms=0.0,
            upstream_request_id=raw.headers.get("request-id") or body.get("id"),
            tool_calls=tool_calls,
            stop_sequence=body.get("stop_sequence")
            if isinstance(body.get("stop_sequence"), str)
            else None,
        )

    async def count_tokens(self, request: ChatRequest) -> int:
        """The prompt's input tokens as Anthropic counts them (``POST
        /v1/messages/count_tokens``, the messages body without what that endpoint refuses)."""
        if request.options is not NO_OPTIONS:
            self.check_options(request.options)
        try:
            raw = await sdk_post(
                self.client,
                anthropic_compat.PREPARED,
                "/v1/messages/count_tokens",
                json_body(wire.count_tokens_body(request)),
                stream=False,
            )
            return int(orjson.loads(raw.content)["input_tokens"])
        except AIError:
            raise
        except Exception as exc:
            raise self.translate_error(exc, model=request.model) from exc

    async def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]:
        state = _StreamState(wire.json_tool(request.options))
        try:
            # Status errors raise here, before any delta; the body is closed in `finally`, also
            # on aclose() or cancellation.
            response = await self._post(request, stream=True)
            stream.upstream_request_id = response.headers.get("request-id")
            del request  # sent: a held stream must not keep the chat alive
            read = aiohttp_body.reader(response)
            try:
                async for event, data in aiter_sse(read):
                    if event == "content_block_delta":
                        payload = orjson.loads(data)
                        delta = payload.get("delta") or {}
                        kind = delta.get("type")
                        if kind == "text_delta":
                            if delta.get("text"):
                                yield delta["text"]
                        elif kind == "input_json_delta" and delta.get("partial_json"):
                            call = state.blocks.get(payload.get("index"))
                            if call == _JSON_ANSWER:
                                yield delta["partial_json"]
                            elif call is not None:
                                yield ToolCallDelta(call, arguments=delta["partial_json"])
                    elif event == "content_block_start":
                        piece = self._block_start(orjson.loads(data), state)
                        if piece is not None:
                            yield piece
                    else:
                        self._on_event(event, data, stream, state)
                    # Not kept alive while the next event is awaited.
                    payload = delta = data = None
            finally:
                await aiohttp_body.aclose(read)
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
        if state.forced is not None and stream.finish_reason == FinishReason.TOOL_CALLS.value:
            stream.finish_reason = FinishReason.STOP.value  # answered through the JSON tool

    @staticmethod
    def _block_start(payload: dict[str, Any], state: _StreamState) -> ToolCallDelta | None:
        """A ``tool_use`` block opens a tool call, numbered by call (0, 1, ...) as OpenAI's
        deltas are, not by content block."""
        block = payload.get("content_block") or {}
        if block.get("type") != "tool_use":
            return None
        if state.forced is not None and block.get("name") == state.forced:
            state.blocks[payload.get("index")] = _JSON_ANSWER
            return None
        ordinal = state.blocks[payload.get("index")] = state.calls
        state.calls += 1
        return ToolCallDelta(ordinal, id=block.get("id") or "", name=block.get("name") or "")

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
            delta = payload.get("delta") or {}
            stream.finish_reason = finish_reason(delta.get("stop_reason"))
            if isinstance(delta.get("stop_sequence"), str):
                stream.stop_sequence = delta["stop_sequence"]
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
