"""OpenAI Chat Completions through the official ``openai`` SDK (3.x).

The SDK makes every call (auth, headers, timeout) and raises its own status and connection
errors, but the typed layer is skipped: requests go through ``client.post(...,
cast_to=httpx2.Response)`` (the SDK's documented route for raw calls) and bodies are read with
orjson, streams with :class:`ai.providers._sse.SSEDecoder`. Client CPU per call against the
fake upstream (separate process, best of 5 x 400 calls, noisy 2-core box), httpx2 / aiohttp:
non-stream typed ``create()`` 3.8 / 2.4 ms, ``with_raw_response`` 2.8 / 1.8 ms, ``post`` 1.8 /
1.0 ms; stream typed 6.1 / 4.1 ms, ``with_streaming_response`` 3.5 / 2.5 ms, ``post`` 2.1 / 1.3 ms.
``create()`` deep-walks every message through its TypedDict transform and builds a pydantic
object per chunk; that is what the raw route saves.

Wire: https://platform.openai.com/docs/api-reference/chat (``POST {base}/chat/completions``); the
body (content parts, tools, response formats, options) and what is read back (tool calls whole
and as stream deltas, finish reasons, usage) are in :mod:`ai.providers._openai_wire`.

Embeddings: https://platform.openai.com/docs/api-reference/embeddings (``POST {base}/embeddings``,
``input`` a list of strings, ``dimensions`` when asked). Vectors are asked as ``float``, which
every OpenAI-compatible server speaks (``base64`` is OpenAI's own option); a base64 answer is
read too (little-endian float32, as OpenAI sends it).
"""

from __future__ import annotations

import asyncio
import base64
import re
import sys
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import openai
import orjson
from django.core.exceptions import ImproperlyConfigured

from ai._compat import aiohttp_body
from ai._compat import openai as openai_compat
from ai._compat.httpx2 import LeanSend
from ai.conf import ai_settings, setting_hint
from ai.exceptions import (
    AIError,
    ProviderNotConfiguredError,
    UnsupportedParameterError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamStreamError,
    UpstreamTimeoutError,
)
from ai.providers import _openai_wire as wire
from ai.providers._http import client_timeout, json_body, pool_limits, transport_error
from ai.providers._loop import PerLoop, PerLoopClient
from ai.providers._prepared import sdk_post
from ai.providers._sse import SSEDecoder
from ai.providers.base import (
    USAGE_ESTIMATED,
    BaseLLMProvider,
    ChatRequest,
    EmbeddingResponse,
    FinishReason,
    LLMResponse,
    LLMStream,
    Usage,
    estimate_tokens,
)
from ai.providers.errors import status_error
from ai.providers.messages import estimated_usage
from ai.providers.parts import ChatOptions, ToolCallDelta

#: Passed explicitly when OPENAI_BASE_URL is None, so the SDK never falls back to the
#: ``OPENAI_BASE_URL`` environment variable behind the host's back.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: One pool per event loop, sized for a gateway (the httpx2 default of 100 is too small).
TRANSPORTS = ("httpx2", "aiohttp")
#: What ``chat.completions.create`` passes with every call: authenticate with the API key.
REQUEST_OPTIONS: dict[str, Any] = {"security": {"bearer_auth": True}}
#: How long to keep reading after ``data: [DONE]`` so the connection goes back to the pool.
DRAIN_SECONDS = 0.1

_SAFE_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class _AioHttpClient(LeanSend, openai.DefaultAioHttpClient):
    pass


class _Httpx2Client(LeanSend, httpx2.AsyncClient):
    pass


def _check_transport(transport: str) -> str:
    if transport not in TRANSPORTS:
        raise ImproperlyConfigured(
            f"AI_HTTP_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {transport!r}."
        )
    return transport


def _error_label(error: object) -> str | None:
    """The vendor's error code or type, only if it looks like an identifier (never free text)."""
    if not isinstance(error, dict):
        return None
    for key in ("code", "type"):
        value = error.get(key)
        if isinstance(value, str) and _SAFE_CODE.fullmatch(value):
            return value
    return None


class OpenAIProvider(PerLoopClient[openai.AsyncOpenAI], BaseLLMProvider):
    """OpenAI Chat Completions (``gpt-4o`` by default). Clients are built lazily, one per loop."""

    name = "openai"
    #: How messages name the vendor (an OpenAI-compatible provider says its own name).
    vendor = "OpenAI"
    default_model = "gpt-4o"
    api_key_setting = "OPENAI_API_KEY"
    supported_options = wire.SUPPORTED_OPTIONS
    #: Fields the gateway does not know go into the body as they are (OpenAI's own wire).
    passes_extra = True
    default_embedding_model = "text-embedding-3-small"

    def __init__(self) -> None:
        _check_transport(ai_settings.AI_HTTP_TRANSPORT)  # fail at start-up, not on a request
        self._clients: PerLoop[openai.AsyncOpenAI] = PerLoop(self._make_client)

    # -- the SDK client ------------------------------------------------------------------------

    def api_key(self) -> str | None:
        """The key the client sends. A subclass serving another OpenAI-wire vendor (an
        OpenAI-compatible provider) overrides this and :meth:`base_url`."""
        return ai_settings.OPENAI_API_KEY

    def base_url(self) -> str:
        return ai_settings.OPENAI_BASE_URL or DEFAULT_BASE_URL

    def _make_client(self) -> openai.AsyncOpenAI:
        api_key = self.api_key()
        if not api_key:  # never let the SDK fall back to the OPENAI_API_KEY environment variable
            raise ProviderNotConfiguredError(
                f"The {self.name} provider is not configured: "
                f"{setting_hint(self.api_key_setting)}.",
                provider=self.name,
            )
        timeout = client_timeout()
        transport = ai_settings.AI_HTTP_TRANSPORT
        # trust_env=False: proxies, certificates and netrc come from settings, not the environment.
        if _check_transport(transport) == "aiohttp":
            http_client: httpx2.AsyncClient = _AioHttpClient(
                timeout=timeout, limits=pool_limits(), trust_env=False, follow_redirects=False
            )
        else:
            http_client = _Httpx2Client(timeout=timeout, limits=pool_limits(), trust_env=False)
        client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.base_url(),
            timeout=timeout,
            max_retries=0,  # the router owns retries
            http_client=http_client,
        )
        # The constructor reads OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_ADMIN_KEY,
        # OPENAI_WEBHOOK_SECRET and OPENAI_CUSTOM_HEADERS from the environment when not given, and
        # has no way to say "none": undo that, so only Django settings configure the gateway.
        client.organization = client.project = client.admin_api_key = None
        client.webhook_secret = None
        openai_compat.forget_environment(client)
        return client

    # -- calls ---------------------------------------------------------------------------------

    def check_options(self, options: ChatOptions) -> None:
        """Everything but ``top_k``; ``extra`` fields go into the body as sent, except those
        the gateway itself sets (``model``, ``messages``, ``stream``, ``stream_options``)."""
        reserved = wire.RESERVED.intersection(options.extra)
        if reserved:
            raise UnsupportedParameterError.of(
                min(reserved), self.name, "the gateway sets it; it cannot be an extra field."
            )
        super().check_options(options)

    @staticmethod
    def _params(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        return wire.body(request, stream=stream)

    async def _post(self, request: ChatRequest, *, stream: bool) -> httpx2.Response:
        """The call, made by the SDK (auth, headers, timeout; status and connection errors raised
        as ``openai`` exceptions), returning the raw response: see the module docstring."""
        return await sdk_post(
            self.client,
            openai_compat.PREPARED,
            "/chat/completions",
            # Serialised here with orjson: a dict `body` goes through the stdlib json module.
            json_body(self._params(request, stream=stream)),
            options=REQUEST_OPTIONS,
            stream=stream,
        )

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        response = await self._post(request, stream=False)
        request_id = response.headers.get("x-request-id")
        try:
            data = orjson.loads(response.content)
            choice = data["choices"][0]
            message = choice.get("message") or {}
            # A refusal is the model's answer to show, in place of content.
            content = message.get("content") or message.get("refusal") or ""
            tool_calls = wire.tool_calls(message)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            raise UpstreamError(
                f"{self.vendor} sent a response the gateway could not read.",
                provider=self.name,
                model=request.model,
                upstream_status=response.status_code,
                request_id=request_id,
            ) from None
        return LLMResponse(
            content=content,
            model=data.get("model") or request.model,
            provider=self.name,
            usage=wire.usage(data.get("usage")) or estimated_usage(request, content, tool_calls),
            finish_reason=wire.finish(choice.get("finish_reason")) or FinishReason.STOP.value,
            latency_ms=0.0,
            upstream_request_id=request_id or data.get("id"),
            tool_calls=tool_calls,
            citations=self._citations(data),
        )

    @staticmethod
    def _citations(data: dict[str, Any]) -> tuple[str, ...]:
        """URLs the answer cites: none from OpenAI (a search vendor's subclass reads them)."""
        return ()

    async def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]:
        """Yield content deltas (``str``) and tool-call pieces (:class:`ToolCallDelta`, OpenAI's
        own delta shape); record model, request id, finish reason and usage on ``stream``.

        Status errors raise from the call itself, so at ``stream.start()`` before any delta. The
        response is closed in ``finally`` however the generator ends (done, error, ``aclose()``
        from a consumer that left, cancellation).
        """
        response = await self._post(request, stream=True)
        stream.upstream_request_id = response.headers.get("x-request-id")
        del request  # sent: a held stream must not keep the chat alive
        read = aiohttp_body.reader(response)
        decoder = SSEDecoder()
        done = False
        try:
            while chunk := await read():
                for _event, data in decoder.feed(chunk):
                    if data == b"[DONE]":
                        done = True
                        break
                    payload = self._load_event(data, stream)
                    choices = payload.get("choices")
                    if choices:
                        choice = choices[0]
                        delta = choice.get("delta")
                        if delta:
                            text = delta.get("content") or delta.get("refusal")
                            if text:
                                yield text
                            if delta.get("tool_calls"):
                                for piece in self._tool_call_deltas(delta["tool_calls"], stream):
                                    yield piece
                        if choice.get("finish_reason"):
                            stream.finish_reason = wire.finish(choice["finish_reason"])
                    usage = payload.get("usage")
                    if usage:  # the last chunk, with choices == []
                        stream.usage = wire.usage(usage)
                if done:
                    break
                # Not kept alive while the next chunk is awaited (~1 KB per open stream).
                payload = choices = choice = delta = chunk = None
            if done:
                await _drain(read)
        except AIError:
            raise
        except Exception as exc:  # a drop or timeout mid-body: keep the request id with it
            err = self.translate_error(exc, model=stream.model)
            err.request_id = err.request_id or stream.upstream_request_id
            raise err from exc
        finally:
            await aiohttp_body.aclose(read)
            await response.aclose()
        if not done:
            # The body ended cleanly but without [DONE]: an intermediary cut it short.
            raise UpstreamConnectionError(
                f"{self.vendor} ended the stream before it finished.",
                provider=self.name,
                model=stream.model,
                request_id=stream.upstream_request_id,
            )

    async def _embed(
        self, inputs: list[str], model: str, dimensions: int | None
    ) -> EmbeddingResponse:
        body: dict[str, Any] = {"model": model, "input": inputs, "encoding_format": "float"}
        if dimensions is not None:
            body["dimensions"] = dimensions
        response = await sdk_post(
            self.client,
            openai_compat.PREPARED,
            "/embeddings",
            json_body(body),
            options=REQUEST_OPTIONS,
            stream=False,
        )
        request_id = response.headers.get("x-request-id")
        try:
            data = orjson.loads(response.content)
            items = sorted(data["data"], key=lambda item: item["index"])
            vectors = [_vector(item["embedding"]) for item in items]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            vectors = []
        if len(vectors) != len(inputs):
            raise UpstreamError(
                f"{self.name} sent an embeddings response the gateway could not read.",
                provider=self.name,
                model=model,
                upstream_status=response.status_code,
                request_id=request_id,
            )
        usage = data.get("usage") or {}
        prompt = usage.get("prompt_tokens")
        return EmbeddingResponse(
            vectors=vectors,
            model=data.get("model") or model,
            provider=self.name,
            usage=Usage.of(prompt, 0, total=usage.get("total_tokens"))
            if prompt is not None
            else Usage.of(sum(map(estimate_tokens, inputs)), 0, source=USAGE_ESTIMATED),
            upstream_request_id=request_id,
        )

    def _tool_call_deltas(self, items: object, stream: LLMStream) -> list[ToolCallDelta]:
        try:
            return wire.tool_call_deltas(items)  # type: ignore[arg-type]
        except (KeyError, TypeError, AttributeError):
            raise self._unreadable_event(stream) from None

    def _unreadable_event(self, stream: LLMStream) -> UpstreamStreamError:
        return UpstreamStreamError(
            f"{self.vendor} sent a stream event the gateway could not read.",
            provider=self.name,
            model=stream.model,
            upstream_status=200,
            request_id=stream.upstream_request_id,
        )

    def _load_event(self, data: bytes, stream: LLMStream) -> dict[str, Any]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise self._unreadable_event(stream)
        if payload.get("error"):
            # In-band: the stream started with 200, then OpenAI reported a failure.
            raise self._in_band_error(payload["error"], stream.model, stream.upstream_request_id)
        if stream.model == stream.request.model and payload.get("model"):
            stream.model = payload["model"]
        if stream.upstream_request_id is None and payload.get("id"):
            stream.upstream_request_id = payload["id"]
        return payload

    # -- errors --------------------------------------------------------------------------------

    def translate_error(self, exc: BaseException, *, model: str | None = None) -> AIError:
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc, model)
        cause = transport_error(exc, self.name, model)
        if cause is not None:
            return cause
        if isinstance(exc, openai.APITimeoutError):
            return UpstreamTimeoutError(
                f"{self.vendor} did not answer in time.", provider=self.name, model=model
            )
        if isinstance(exc, openai.APIConnectionError):
            return UpstreamConnectionError(
                f"Could not reach {self.vendor}, or it dropped the connection.",
                provider=self.name,
                model=model,
            )
        if isinstance(exc, openai.APIError):  # in-band error raised by the SDK's typed stream
            return self._in_band_error(exc.body, model, None)
        return super().translate_error(exc, model=model)

    def _in_band_error(
        self, error: object, model: str | None, request_id: str | None
    ) -> UpstreamStreamError:
        label = _error_label(error)
        return UpstreamStreamError(
            f"{self.vendor} reported an error inside the stream"
            + (f" ({label})." if label else "."),
            provider=self.name,
            model=model,
            upstream_status=200,
            request_id=request_id,
        )

    def _status_error(self, exc: openai.APIStatusError, model: str | None) -> AIError:
        body = exc.body if isinstance(exc.body, dict) else {}
        return status_error(
            exc.status_code,
            provider=self.name,
            vendor=self.vendor,
            model=model,
            label=_error_label(body),
            detail=body.get("message"),
            request_id=exc.request_id,
            headers=exc.response.headers,
            secrets=(self.api_key(),),
        )


def _vector(value: object) -> list[float]:
    """An embedding as floats: a JSON array, or base64 of little-endian float32 values."""
    if isinstance(value, str):
        floats = array("f", base64.b64decode(value, validate=True))
        if sys.byteorder != "little":
            floats.byteswap()
        return floats.tolist()
    if not isinstance(value, list):
        raise TypeError("an embedding is an array or a base64 string")
    return value  # orjson's floats, as they are (no copy of a 3072-value list)


async def _drain(read: Callable[[], Awaitable[bytes]]) -> None:
    """Read what follows ``[DONE]`` (the chunked terminator), briefly, so HTTP/1.1 keep-alive can
    reuse the connection; a closed-early body forces the pool to drop it."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while await read():
                pass
    except Exception:  # a timeout, a drop: the connection is simply not reused
        pass
