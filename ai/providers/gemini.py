"""Google Gemini (the Gemini Developer API) through the official ``google-genai`` SDK (3.x).

The SDK builds and sends every request (URL, API version, ``x-goog-api-key``, transport) and
raises its own status errors (``errors.ClientError`` / ``ServerError``, also for an in-band
``data: {"error": ...}`` frame). What differs from the other vendors, and why:

* **Raw bodies.** google-genai has a supported raw mode only for non-streaming calls
  (``GenerateContentConfig.should_return_http_response``); its streams always build a typed
  ``GenerateContentResponse`` per chunk, about 0.4 ms of CPU per chunk (measured): more than the
  rest of the gateway. So by default (``wire = "raw"``) this module calls the SDK's own request
  layer (``BaseApiClient.async_request`` / ``_build_request`` + ``_async_request``, what its
  ``models`` module calls) with the camelCase body built here, then reads the JSON / SSE body
  itself with orjson and closes it itself. That layer is internal to the SDK: if a version lacks
  it, the provider falls back to the public typed API (``wire = "typed"``), also tested.
* **Deadlines are the gateway's.** genai turns its timeout into aiohttp's *total* timeout,
  which would cut any stream longer than it; with httpx2 it is per read. So the SDK gets no
  timeout, and the gateway's own deadlines (``ai.providers.deadlines``: first byte, idle
  between deltas) bound every call, as for the other vendors.
* **Tools.** Gemini names the function in a tool result, not the call: the name comes from the
  assistant turn whose call the result answers. Gemini gives calls no ids (it may in future):
  the gateway makes ``call_<hex>`` ones. It sends whole calls, so a streamed call is one
  :class:`ToolCallDelta` with all its arguments. It ends a turn of calls with ``STOP``, reported
  as ``tool_calls``. It cannot be held to one call per turn (``parallel_tool_calls=False`` is
  refused), fetch image URLs (refused: send a data URL), or take unknown fields.
* **Errors.** Timeouts, refused connections and drops are not wrapped by genai (raw httpx2 or
  aiohttp exceptions): :func:`ai.providers._http.transport_error` maps them. A bad key is a 400
  ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``, mapped to an authentication error. A 429
  carries its retry delay in the body (``google.rpc.RetryInfo``), not in ``Retry-After``: it
  becomes the error's ``retry_after`` (and so the gateway's own ``Retry-After``).

* **Embeddings** go to ``:batchEmbedContents``, as the SDK's ``models.embed_content`` sends
  them on the Developer API (``requests[]`` of ``{model, content, outputDimensionality}``), at
  most :data:`~ai.providers._gemini_embed.EMBED_BATCH` texts a call (``_gemini_embed``): more are
  split into concurrent calls. Token counts come from ``usageMetadata`` when Google sends it,
  else they are estimated.

Wire: https://ai.google.dev/api/generate-content (``POST /v1beta/models/{model}:generateContent``
and ``:streamGenerateContent?alt=sse``), https://ai.google.dev/api/embeddings
(``:batchEmbedContents``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx2
import orjson
import pydantic
from django.core.exceptions import ImproperlyConfigured
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ai._compat import genai as genai_compat
from ai.conf import ai_settings, setting_hint
from ai.exceptions import (
    AIError,
    ProviderNotConfiguredError,
    UnsupportedParameterError,
    UpstreamAuthenticationError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamStreamError,
)
from ai.providers._gemini_embed import GeminiEmbeddings
from ai.providers._gemini_wire import (
    Chunk,
    error_reasons,
    gemini_body,
    gemini_model_path,
    gemini_usage,
    http_status,
    read_response,
    read_typed,
    retry_info,
    status_name,
    with_calls,
)
from ai.providers._http import pool_limits, transport_error
from ai.providers._loop import PerLoop, PerLoopClient
from ai.providers._sse import SSEDecoder
from ai.providers.base import (
    BaseLLMProvider,
    ChatRequest,
    FinishReason,
    LLMResponse,
    LLMStream,
)
from ai.providers.errors import status_error
from ai.providers.messages import estimated_usage
from ai.providers.parts import ChatOptions, ToolCallDelta

logger = logging.getLogger(__name__)

#: Passed when GOOGLE_GEMINI_BASE_URL is None, so the SDK never reads the environment variable
#: of the same name behind the host's back.
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
TRANSPORTS = ("httpx2", "aiohttp")
#: One SDK call = one upstream call: no hidden continuation hops or tool loops (typed wire).
_ONE_CALL = {"automatic_continuation": False, "automatic_function_calling": {"disable": True}}
#: The request option behind a typed config field the SDK refused.
_OPTION_OF = {
    "toolConfig": "tool_choice",
    "responseJsonSchema": "response_format",
    "responseMimeType": "response_format",
    "stopSequences": "stop",
}


def _check_transport(transport: str) -> str:
    if transport not in TRANSPORTS:
        raise ImproperlyConfigured(
            f"AI_HTTP_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {transport!r}."
        )
    return transport


# -- the provider ------------------------------------------------------------------------------


class _Client:
    """One event loop's genai client, the HTTP pool under it and the settings it was built with."""

    __slots__ = ("api", "genai", "http", "key", "timeout", "transport")  # key: for sanitize()

    def __init__(self, key: str, timeout: float, transport: str) -> None:
        self.key, self.timeout, self.transport = key, timeout, transport
        options: dict[str, Any] = {}
        if transport == "aiohttp":
            import aiohttp

            # Passing our session stops genai building its own (trust_env=True, unbounded).
            self.http: Any = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=pool_limits().max_connections),
                trust_env=False,
            )
            options["aiohttp_client"] = self.http
        else:
            self.http = httpx2.AsyncClient(
                limits=pool_limits(),
                trust_env=False,
            )
            options["httpx_async_client"] = self.http
        self.genai = genai.Client(
            vertexai=False,  # else GOOGLE_GENAI_USE_VERTEXAI / _ENTERPRISE could switch the API
            api_key=key,
            http_options=types.HttpOptions(
                base_url=ai_settings.GOOGLE_GEMINI_BASE_URL or DEFAULT_BASE_URL,
                api_version=ai_settings.GOOGLE_GEMINI_API_VERSION,
                # No SDK timeout (see the module docstring), but Google still learns our deadline.
                headers={"X-Server-Timeout": str(math.ceil(timeout))},
                # attempts=1 also stops genai's hidden 1-10 s sleep-and-retry on aiohttp errors.
                retry_options=types.HttpRetryOptions(attempts=1),
                **options,
            ),
        )
        # The internal layer the SDK's models module calls (None: use the typed API).
        self.api = genai_compat.api_client(self.genai)

    async def close(self) -> None:
        try:
            await self.genai.aio.aclose()  # the SDK's own unused pools; ours are closed below
            self.genai.close()
        finally:
            await (self.http.close() if self.transport == "aiohttp" else self.http.aclose())


class GeminiProvider(GeminiEmbeddings, PerLoopClient[_Client], BaseLLMProvider):
    """Google Gemini (``gemini-2.5-flash`` by default). Clients are built lazily, one per loop."""

    name = "gemini"
    default_model = "gemini-2.5-flash"
    api_key_setting = "GOOGLE_API_KEY"
    #: "raw": the SDK's request layer + orjson (fast); "typed": only the SDK's public API (what
    #: is used when :mod:`ai._compat.genai`'s checks fail).
    wire: ClassVar[str] = "raw" if genai_compat.RAW_WIRE_OK else "typed"
    #: ``user`` and ``metadata`` are accepted and not sent (they do not change the answer).
    supported_options = frozenset(
        ("tools", "tool_choice", "parallel_tool_calls", "response_format", "stop", "top_p",
         "top_k", "seed", "presence_penalty", "frequency_penalty", "user", "metadata",
         "reasoning_effort")
    )  # fmt: skip

    default_embedding_model = "gemini-embedding-001"

    def __init__(self) -> None:
        _check_transport(ai_settings.AI_HTTP_TRANSPORT)  # fail at start-up, not on a request
        self._clients: PerLoop[_Client] = PerLoop(self._make_client)

    def _make_client(self) -> _Client:
        key = ai_settings.GOOGLE_API_KEY
        if not key:  # never let the SDK fall back to GOOGLE_API_KEY / GEMINI_API_KEY in os.environ
            raise ProviderNotConfiguredError(
                f"The {self.name} provider is not configured: "
                f"{setting_hint(self.api_key_setting)}.",
                provider=self.name,
            )
        transport = _check_transport(ai_settings.AI_HTTP_TRANSPORT)
        return _Client(key, float(ai_settings.AI_REQUEST_TIMEOUT), transport)

    def _raw(self, client: _Client) -> bool:
        if self.wire != "raw":
            return False
        if client.api is not None:
            return True
        logger.warning("This google-genai client has no request layer; using its typed API.")
        type(self).wire = "typed"
        return False

    def check_options(self, options: ChatOptions) -> None:
        super().check_options(options)
        if options.parallel_tool_calls is False:
            raise UnsupportedParameterError.of(
                "parallel_tool_calls", self.name, "Gemini may call several functions at once."
            )

    @staticmethod
    def _config(body: dict[str, Any], **extra: Any) -> types.GenerateContentConfig:
        """The typed wire's config: the raw body's own dicts validated into the SDK's models
        (they take camelCase keys), so both wires send the same request (the SDK re-encodes inline
        image bytes, as ``mime_type`` and URL-safe base64, which Google reads too)."""
        config = {
            key: body[key] for key in ("systemInstruction", "tools", "toolConfig") if key in body
        }
        try:
            return types.GenerateContentConfig.model_validate(
                {**body.get("generationConfig", {}), **config, **_ONE_CALL, **extra}
            )
        except pydantic.ValidationError as err:  # the raw wire would send it; this SDK cannot
            where = err.errors()[0]["loc"][0] if err.errors() else "request"
            raise UnsupportedParameterError(
                f"The Gemini SDK cannot send this request's {where}.",
                param=_OPTION_OF.get(str(where), str(where)),
                provider="gemini",
            ) from None

    # -- calls ---------------------------------------------------------------------------------

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        client = self.client
        path = gemini_model_path(request.model)
        body = gemini_body(request)  # refuses what Gemini cannot take, before any call
        if self._raw(client):
            raw = await genai_compat.post(client.api, f"{path}:generateContent", body)
        else:  # the SDK's supported raw mode for non-streaming calls
            config = self._config(body, should_return_http_response=True)
            response = await client.genai.aio.models.generate_content(
                model=path, contents=body["contents"], config=config
            )
            raw = response.sdk_http_response
        try:
            data = orjson.loads(raw.body or "{}")
            content, calls, finish = read_response(data)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            raise UpstreamError(
                "Gemini sent a response the gateway could not read.",
                provider=self.name,
                model=request.model,
                upstream_status=200,
            ) from None
        usage = gemini_usage(data.get("usageMetadata")) or estimated_usage(request, content)
        return LLMResponse(
            content=content,
            model=data.get("modelVersion") or request.model,
            provider=self.name,
            usage=usage,
            finish_reason=finish or FinishReason.STOP.value,
            latency_ms=0.0,
            upstream_request_id=data.get("responseId"),
            tool_calls=calls,
        )

    async def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]:
        """Yield text deltas and one :class:`ToolCallDelta` per call (Gemini sends whole calls);
        record model, response id, finish reason and (cumulative) usage.

        Status errors raise from the first step, so at ``stream.start()``. The HTTP response is
        closed in ``finally`` however this generator ends; every wait is bounded by
        ``AI_REQUEST_TIMEOUT``. A body that ends before any ``finishReason`` is a cut stream.
        """
        client = self.client
        path = gemini_model_path(request.model)
        wire = self._raw_chunks if self._raw(client) else self._typed_chunks
        chunks = wire(client, path, gemini_body(request))
        del request  # a held stream keeps only the body it sends (the wire's own)
        called = 0
        try:
            async for text, calls, finish, usage, model, response_id in chunks:
                if usage is not None:
                    stream.usage = usage
                if finish is not None:
                    # The calls and the STOP that ends them may come in different chunks.
                    stream.finish_reason = with_calls(finish, called > 0 or bool(calls))
                if model:
                    stream.model = model
                if response_id and stream.upstream_request_id is None:
                    stream.upstream_request_id = response_id
                if text:
                    yield text
                for call in calls:
                    yield ToolCallDelta(called, call.id, call.name, call.arguments)
                    called += 1
        except AIError as err:
            err.model = err.model or stream.model
            err.request_id = err.request_id or stream.upstream_request_id
            raise
        except Exception as exc:
            err = self.translate_error(exc, model=stream.model)
            err.request_id = err.request_id or stream.upstream_request_id
            raise err from exc
        finally:
            await chunks.aclose()
        if stream.finish_reason is None:
            raise UpstreamConnectionError(
                "Gemini ended the stream before it finished.",
                provider=self.name,
                model=stream.model,
                request_id=stream.upstream_request_id,
            )

    async def _raw_chunks(
        self, client: _Client, path: str, request_body: dict[str, Any]
    ) -> AsyncIterator[Chunk]:
        """The SDK sends the request and raises status errors; the SSE body is read here, and
        closed here (the SDK's own stream iterator is only closed by the garbage collector)."""
        url = f"{path}:streamGenerateContent?alt=sse"
        body = await genai_compat.post_stream(client.api, url, request_body)
        del request_body  # sent: a held stream must not keep the chat alive
        is_httpx = isinstance(body, httpx2.Response)
        pieces = body.aiter_bytes() if is_httpx else body.content.iter_any()
        decoder = SSEDecoder(keep_stray=True)
        finished = False
        try:
            async for piece in pieces:
                for _event, data in decoder.feed(piece):
                    yield self._raw_chunk(data)
            for data in decoder.leftover():
                yield self._raw_chunk(data)
            finished = True
        finally:
            if is_httpx:
                await pieces.aclose()
                await body.aclose()
            elif finished:
                body.release()  # back to the pool
            else:
                body.close()  # an unfinished body: drop the connection

    def _raw_chunk(self, data: bytes) -> Chunk:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise UpstreamStreamError(
                "Gemini sent a stream event the gateway could not read.",
                provider=self.name,
                upstream_status=200,
            )
        error = payload.get("error")
        if error is not None:  # in-band: the stream had started with 200
            error = error if isinstance(error, dict) else {}
            code, kind = error.get("code"), status_name(error.get("status"))
            raise UpstreamStreamError(
                f"Gemini reported an error inside the stream{f' ({kind})' if kind else ''}.",
                provider=self.name,
                upstream_status=code if isinstance(code, int) else None,
            )
        text, calls, finish = read_response(payload)
        usage = gemini_usage(payload.get("usageMetadata"))
        return text, calls, finish, usage, payload.get("modelVersion"), payload.get("responseId")

    async def _typed_chunks(
        self, client: _Client, path: str, body: dict[str, Any]
    ) -> AsyncIterator[Chunk]:
        """The public API. Its HTTP response closes only when the garbage collector finalises
        the SDK's generators (they form a reference cycle), so an early stop lingers a little."""
        chunks = await client.genai.aio.models.generate_content_stream(
            model=path, contents=body["contents"], config=self._config(body)
        )
        del body  # sent: a held stream must not keep the chat alive
        try:
            async for chunk in chunks:
                yield (*read_typed(chunk), chunk.model_version, chunk.response_id)
        finally:
            await chunks.aclose()

    # -- errors --------------------------------------------------------------------------------

    def translate_error(self, exc: BaseException, *, model: str | None = None) -> AIError:
        if isinstance(exc, AIError):
            return exc
        if isinstance(exc, genai_errors.APIError):
            return self._api_error(exc, model)
        if isinstance(exc, genai_errors.UnknownApiResponseError | orjson.JSONDecodeError):
            return UpstreamError(
                "Gemini sent a response the gateway could not read.",
                provider=self.name,
                model=model,
            )
        return transport_error(exc, self.name, model) or super().translate_error(exc, model=model)

    def _api_error(self, exc: genai_errors.APIError, model: str | None) -> AIError:
        code = exc.code if isinstance(exc.code, int) else None
        kind = status_name(exc.status)
        label = f" ({kind})" if kind else ""
        context: dict[str, Any] = {"provider": self.name, "model": model, "upstream_status": code}
        if http_status(exc.response) == 200:
            # In-band: the stream had started with 200 when Gemini sent {"error": ...}.
            return UpstreamStreamError(
                f"Gemini reported an error inside the stream{label}.", **context
            )
        code = code or 0
        if code == 400 and "API_KEY_INVALID" in error_reasons(exc.details):
            return UpstreamAuthenticationError(
                "Gemini rejected the gateway's API key (API_KEY_INVALID).", **context
            )
        if code < 400:
            return UpstreamError(f"Gemini returned an unexpected response{label}.", **context)
        client = self._clients.current()
        return status_error(
            code,
            provider=self.name,
            vendor="Gemini",
            model=model,
            label=kind,
            detail=exc.message,
            headers=getattr(exc.response, "headers", None),
            # Gemini says when to retry in the body (google.rpc.RetryInfo), not in a header.
            retry_after=retry_info(exc.details),
            secrets=(ai_settings.GOOGLE_API_KEY, client.key if client else None),
        )
