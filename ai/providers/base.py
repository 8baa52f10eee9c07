"""The LLM interface: value objects and the provider contract every vendor module implements.

A provider subclasses :class:`BaseLLMProvider` and fills in three hooks:

* ``_complete(request)`` returns an :class:`LLMResponse` (``latency_ms`` is filled in here);
* ``_stream_chunks(request, stream)`` is an async generator that yields content deltas (``str``)
  and records what the upstream reports on the ``stream`` object as it arrives: ``usage``,
  ``finish_reason``, ``model``, ``upstream_request_id``. It returns normally only when the
  upstream ended the stream properly; it must close the SDK stream in a ``finally``;
* ``translate_error(exc)`` turns an SDK / transport exception into an
  :class:`ai.exceptions.AIError`.

Value objects: :mod:`ai.providers.messages` (and :mod:`ai.providers.parts`); streams:
:mod:`ai.providers.stream`. All are re-exported here.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import ClassVar

from ai.conf import ai_settings
from ai.exceptions import AIError, UnsupportedParameterError, UpstreamError, UpstreamTimeoutError
from ai.providers.deadlines import first_byte_timeout
from ai.providers.messages import (
    USAGE_ESTIMATED,
    USAGE_REPORTED,
    ChatRequest,
    EmbeddingResponse,
    FinishReason,
    LLMResponse,
    Message,
    ModelComplexity,
    Role,
    Usage,
    estimate_tokens,
    simple_messages,
    split_system,
)
from ai.providers.parts import (
    NEVER_DROPPED,
    NO_OPTIONS,
    ChatOptions,
    ImagePart,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)
from ai.providers.stream import LLMStream


def _to_messages(messages: Sequence[Message | dict]) -> tuple[Message, ...]:
    return tuple(
        m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in messages
    )


class BaseLLMProvider(ABC):
    """One vendor behind the common interface. Instances are cheap and shared (the factory
    caches them); SDK clients are created lazily, one per event loop."""

    #: The provider's name in settings, routes, the API and the usage ledger.
    name: ClassVar[str]
    #: The model used when a call names none.
    default_model: ClassVar[str]
    #: The Django setting that holds this provider's API key (None: needs no key).
    api_key_setting: ClassVar[str | None] = None
    can_stream: ClassVar[bool] = True

    #: The :class:`ChatOptions` names this provider honours (:meth:`ChatOptions.given`); a
    #: request with any other is refused before the upstream call. ``extra`` fields are
    #: refused unless ``passes_extra``.
    supported_options: ClassVar[frozenset[str]] = frozenset()
    passes_extra: ClassVar[bool] = False
    #: The model :meth:`embed` uses when a call names none (None: no embeddings).
    default_embedding_model: ClassVar[str | None] = None

    def _request(
        self,
        messages: Sequence[Message | dict],
        model: str | None,
        temperature: float | None,
        max_tokens: int | None,
        options: ChatOptions | None = None,
    ) -> ChatRequest:
        msgs = _to_messages(messages)
        if not msgs:
            raise ValueError("messages must not be empty")
        options = options or NO_OPTIONS
        if options is not NO_OPTIONS:
            options, _ = self.fit_options(options)
        return ChatRequest(msgs, model or self.default_model, temperature, max_tokens, options)

    def fit_options(self, options: ChatOptions) -> tuple[ChatOptions, tuple[str, ...]]:
        """``options`` as this provider takes them, and the names of those left out. Raises
        :class:`ai.exceptions.UnsupportedParameterError` for one it cannot honour, unless the
        request asked to drop such options (``drop_unsupported``, else ``AI_DROP_PARAMS``):
        then each one it refuses is left out, except :data:`~ai.providers.parts.NEVER_DROPPED`
        ones. The provider's own :meth:`check_options` decides, so its finer rules count."""
        dropped: list[str] = []
        while True:
            try:
                self.check_options(options)
            except UnsupportedParameterError as err:
                drop = options.drop_unsupported
                if drop is None:
                    drop = bool(ai_settings.AI_DROP_PARAMS)
                name = err.param
                if not drop or name in NEVER_DROPPED or name not in options.given():
                    raise
                fewer = options.without(name)
                if fewer == options:  # nothing to leave out after all: no second round
                    raise
                options = fewer
                dropped.append(name)
            else:
                return options, tuple(dropped)

    def check_options(self, options: ChatOptions) -> None:
        """Raise :class:`ai.exceptions.UnsupportedParameterError` for an option this provider
        cannot honour. Providers with finer rules (a tool choice it lacks) extend it."""
        supported = self.supported_options
        if self.passes_extra and options.extra:
            supported = supported | frozenset(options.extra)
        options.refuse(self.name, supported)

    async def complete(
        self,
        messages: Sequence[Message | dict],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        options: ChatOptions | None = None,
    ) -> LLMResponse:
        request = self._request(messages, model, temperature, max_tokens, options)
        started = time.perf_counter()
        seconds = first_byte_timeout()
        try:
            async with asyncio.timeout(seconds):
                response = await self._complete(request)
        except AIError:
            raise
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"{self.name} did not answer within {seconds:g} s.",
                provider=self.name,
                model=request.model,
            ) from None
        except Exception as exc:
            raise self.translate_error(exc, model=request.model) from exc
        return replace(
            response,
            latency_ms=(time.perf_counter() - started) * 1000,
            requested_model=request.model,
        )

    def stream(
        self,
        messages: Sequence[Message | dict],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        options: ChatOptions | None = None,
    ) -> LLMStream:
        return LLMStream(self, self._request(messages, model, temperature, max_tokens, options))

    async def complete_simple(
        self,
        prompt: str,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResponse:
        return await self.complete(simple_messages(prompt, system), model, temperature, max_tokens)

    def stream_simple(
        self,
        prompt: str,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMStream:
        return self.stream(simple_messages(prompt, system), model, temperature, max_tokens)

    async def embed(
        self, inputs: Sequence[str], model: str | None = None, *, dimensions: int | None = None
    ) -> EmbeddingResponse:
        """One vector per input string. Raises :class:`UnsupportedParameterError` when this
        provider has no embeddings (or not with ``dimensions``), an AIError when the call fails."""
        model = model or self.default_embedding_model
        if model is None:
            raise UnsupportedParameterError(
                f"The {self.name} provider has no embeddings.", param="model", provider=self.name
            )
        started = time.perf_counter()
        seconds = first_byte_timeout()
        try:
            async with asyncio.timeout(seconds):
                response = await self._embed(list(inputs), model, dimensions)
        except AIError:
            raise
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"{self.name} did not answer within {seconds:g} s.", provider=self.name, model=model
            ) from None
        except Exception as exc:
            raise self.translate_error(exc, model=model) from exc
        return replace(
            response, latency_ms=(time.perf_counter() - started) * 1000, requested_model=model
        )

    async def _embed(
        self, inputs: list[str], model: str, dimensions: int | None
    ) -> EmbeddingResponse:
        """The vendor's embeddings call; providers with embeddings override it."""
        raise UnsupportedParameterError(
            f"The {self.name} provider has no embeddings.", param="model", provider=self.name
        )

    @abstractmethod
    async def _complete(self, request: ChatRequest) -> LLMResponse: ...

    @abstractmethod
    def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]: ...

    def translate_error(self, exc: BaseException, *, model: str | None = None) -> AIError:
        """Map an SDK or transport exception to the app's own error. Vendors override this and
        fall back to ``super()`` for anything they do not recognise."""
        return UpstreamError(
            f"{self.name} request failed ({type(exc).__name__}).", provider=self.name, model=model
        )

    async def aclose(self) -> None:  # noqa: B027  (optional hook, deliberately a no-op)
        """Release pooled connections (tests, shutdown). Optional."""


__all__ = [
    "USAGE_ESTIMATED",
    "USAGE_REPORTED",
    "BaseLLMProvider",
    "ChatOptions",
    "ChatRequest",
    "EmbeddingResponse",
    "FinishReason",
    "ImagePart",
    "LLMResponse",
    "LLMStream",
    "Message",
    "ModelComplexity",
    "Role",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "Usage",
    "estimate_tokens",
    "simple_messages",
    "split_system",
]
