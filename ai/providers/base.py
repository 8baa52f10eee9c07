"""The LLM interface: value objects and the provider contract every vendor module implements.

A provider subclasses :class:`BaseLLMProvider` and fills in three hooks:

* ``_complete(request)`` returns an :class:`LLMResponse` (``latency_ms`` is filled in here);
* ``_stream_chunks(request, stream)`` is an async generator that yields content deltas (``str``)
  and records what the upstream reports on the ``stream`` object as it arrives: ``usage``,
  ``finish_reason``, ``model``, ``upstream_request_id``. It returns normally only when the
  upstream ended the stream properly; it must close the SDK stream in a ``finally``;
* ``translate_error(exc)`` turns an SDK / transport exception into an
  :class:`ai.exceptions.AIError`.

The orchestration (timing, error translation, partial usage for cut streams) lives here once.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar

from ai.exceptions import (
    AIError,
    UnsupportedParameterError,
    UpstreamError,
    UpstreamStreamError,
    UpstreamTimeoutError,
)
from ai.providers.deadlines import IdleWatch, first_byte_timeout, idle_timeout
from ai.providers.parts import (
    NO_OPTIONS,
    ChatOptions,
    ImagePart,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolCallBuilder,
    ToolCallDelta,
    ToolChoice,
)


class ModelComplexity(StrEnum):
    """How hard a request is; the router picks provider and model from it."""

    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"
    SEARCH = "search"


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    #: A tool's result, answering the assistant's tool call ``tool_call_id``.
    TOOL = "tool"


class FinishReason(StrEnum):
    """One vocabulary for why generation stopped, whatever the vendor called it."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Message:
    """One turn. ``content`` is always the turn's text (what estimates, the classifier and the
    cache read); ``parts`` is set when the turn has more than text (images), in order, text
    parts included. An assistant turn may carry ``tool_calls``; a ``TOOL`` turn answers the
    call ``tool_call_id`` (of function ``name``) with ``content`` as the result."""

    role: Role
    content: str
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            object.__setattr__(self, "role", Role(self.role))
        if not isinstance(self.content, str):
            raise TypeError(f"Message content must be str, not {type(self.content).__name__}")

    @classmethod
    def of_parts(cls, role: Role, parts: Sequence[Part], **kw: Any) -> Message:
        """A turn from its parts: plain text when they are all text (joined by newlines)."""
        text = "\n".join(p.text for p in parts if isinstance(p, TextPart))
        rich = any(not isinstance(p, TextPart) for p in parts)
        return cls(role, text, tuple(parts) if rich else (), **kw)

    def content_parts(self) -> tuple[Part, ...]:
        """The turn's content as parts (one text part for a plain-text turn)."""
        if self.parts:
            return self.parts
        return (TextPart(self.content),) if self.content else ()

    def canonical(self) -> list[Any]:
        """A JSON-able value equal for equal turns (the response cache's key)."""
        out: list[Any] = [self.role.value, self.content]
        if self.parts or self.tool_calls or self.tool_call_id:
            out.append([[type(p).__name__, *_fields(p)] for p in self.parts])
            out.append([[c.id, c.name, c.arguments] for c in self.tool_calls])
            out.append(self.tool_call_id)
        return out


def _fields(obj: Any) -> list[Any]:
    return [getattr(obj, name) for name in obj.__slots__]


#: Where token counts came from.
USAGE_REPORTED = "reported"
USAGE_ESTIMATED = "estimated"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one upstream call. ``cached_tokens`` are part of ``prompt_tokens``;
    ``reasoning_tokens`` are part of ``completion_tokens``."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    source: str = USAGE_REPORTED

    @classmethod
    def of(
        cls,
        prompt: int,
        completion: int,
        *,
        cached: int = 0,
        reasoning: int = 0,
        total: int | None = None,
        source: str = USAGE_REPORTED,
    ) -> Usage:
        prompt, completion = int(prompt or 0), int(completion or 0)
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=int(total) if total else prompt + completion,
            cached_tokens=int(cached or 0),
            reasoning_tokens=int(reasoning or 0),
            source=source,
        )

    def as_dict(self) -> dict[str, int | str]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class LLMResponse:
    content: str
    model: str
    provider: str
    usage: Usage
    finish_reason: str
    latency_ms: float
    upstream_request_id: str | None = None
    #: The functions the model asked to call (``finish_reason`` is then ``tool_calls``).
    tool_calls: tuple[ToolCall, ...] = ()
    #: The URLs a search model cites (Perplexity's ``citations``).
    citations: tuple[str, ...] = ()
    #: The model the gateway asked for; ``model`` is the one the upstream says answered (an
    #: alias or a dated snapshot of it, e.g. Gemini's ``modelVersion``).
    requested_model: str = ""


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """Vectors for the inputs of one embeddings call, in input order. ``usage`` counts the
    inputs as prompt tokens (no completion)."""

    vectors: list[list[float]]
    model: str
    provider: str
    usage: Usage
    latency_ms: float = 0.0
    requested_model: str = ""
    upstream_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a provider is asked to do: the normalised arguments of complete()/stream()."""

    messages: tuple[Message, ...]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    options: ChatOptions = NO_OPTIONS


def estimate_tokens(text: str) -> int:
    """A vendor-neutral estimate (about four characters a token), used only when an upstream
    never reported its counts, e.g. a stream cut before its usage event."""
    return math.ceil(len(text) / 4) if text else 0


def split_system(messages: Iterable[Message]) -> tuple[str | None, list[Message]]:
    """Separate system messages (joined by blank lines) from the conversation, for vendors that
    take the system prompt as its own parameter (Anthropic, Gemini)."""
    system: list[str] = []
    rest: list[Message] = []
    for message in messages:
        (system.append(message.content) if message.role is Role.SYSTEM else rest.append(message))
    return ("\n\n".join(system) if system else None), rest


class LLMStream:
    """An async iterator of deltas from one upstream call, with usage at its end: content
    (``str``) and, when the model calls tools, :class:`ToolCallDelta` pieces.

    ``await stream.start()`` opens the upstream call and waits for its first delta, so that
    authentication, rate limits and connection failures raise before a caller commits to a
    response; iterating starts it too. After the iteration ends, ``response`` holds the whole
    :class:`LLMResponse`. ``usage_so_far()`` gives counts at any time: the upstream's own when it
    reported them, else an estimate from what was produced (``source == "estimated"``).
    """

    def __init__(self, provider: BaseLLMProvider, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.model: str = request.model
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.upstream_request_id: str | None = None
        self.started_at: float | None = None
        self.first_chunk_at: float | None = None
        self.ended_at: float | None = None
        self.completed = False
        #: Set by :meth:`_until_end` when the provider's generator returned by itself: the only
        #: proof that the upstream ended the stream (a generator closed from outside, e.g. by
        #: asyncio's ``shutdown_asyncgens``, also stops, without reaching it).
        self._reached_end = False
        self.error: AIError | None = None
        self._parts: list[str] = []
        self._tool_calls: ToolCallBuilder | None = None
        #: The URLs a search model cites, as the provider reads them from the stream.
        self.citations: tuple[str, ...] = ()
        self._gen: AsyncIterator[str | ToolCallDelta] | None = None
        self._pending: str | ToolCallDelta | None = None
        #: Enforces AI_IDLE_TIMEOUT between deltas once the first one came.
        self._idle: IdleWatch | None = None

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def content(self) -> str:
        return "".join(self._parts)

    async def start(self) -> None:
        if self._gen is not None:
            return
        self.started_at = time.perf_counter()
        self._gen = self._until_end()
        seconds = first_byte_timeout()
        try:
            async with asyncio.timeout(seconds):
                self._pending = await self._next()
        except StopAsyncIteration:
            self._pending = None
        except TimeoutError:
            raise self._failed(self._timed_out("its first delta", seconds)) from None
        if not self.completed and self.error is None:
            self._idle = IdleWatch(idle_timeout())

    def _timed_out(self, what: str, seconds: float) -> UpstreamTimeoutError:
        return UpstreamTimeoutError(
            f"{self.provider.name} sent {what} after more than {seconds:g} s.",
            provider=self.provider.name,
            model=self.model,
            request_id=self.upstream_request_id,
        )

    async def _until_end(self) -> AsyncIterator[str | ToolCallDelta]:
        # aclosing: closing this generator must close the provider's (and its upstream) at once.
        async with aclosing(self.provider._stream_chunks(self.request, self)) as chunks:
            async for chunk in chunks:
                yield chunk
        self._reached_end = True

    def __aiter__(self) -> AsyncIterator[str | ToolCallDelta]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | ToolCallDelta]:
        await self.start()
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            yield chunk
        while not self.completed:
            try:
                yield await self._next()
            except StopAsyncIteration:
                return

    async def _next(self) -> str | ToolCallDelta:
        assert self._gen is not None
        watch = self._idle
        if watch is not None:
            watch.waiting()
        try:
            chunk = await self._gen.__anext__()
        except asyncio.CancelledError:
            if watch is not None and watch.expired():  # AI_IDLE_TIMEOUT, not the client
                raise self._failed(self._timed_out("no delta", watch.seconds)) from None
            raise
        except StopAsyncIteration:
            if not self._reached_end:
                raise self._failed(
                    UpstreamStreamError(
                        "The stream was stopped before the upstream ended it.",
                        provider=self.provider.name,
                        model=self.model,
                    )
                ) from None
            self.completed = True
            self.ended_at = time.perf_counter()
            self._stop_watch()
            raise
        except AIError as err:
            self._failed(err)
            raise
        except Exception as exc:  # an SDK or transport exception: never let it escape raw
            raise self._failed(self.provider.translate_error(exc, model=self.model)) from exc
        finally:
            if watch is not None:
                watch.idle()
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        if type(chunk) is str:
            self._parts.append(chunk)
        else:
            if self._tool_calls is None:
                self._tool_calls = ToolCallBuilder()
            self._tool_calls.add(chunk)
        return chunk

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls streamed so far, reassembled."""
        return () if self._tool_calls is None else self._tool_calls.calls()

    def _stop_watch(self) -> None:
        watch, self._idle = self._idle, None
        if watch is not None:
            watch.stop()

    def _failed(self, err: AIError) -> AIError:
        self._stop_watch()
        self.error = err
        self.ended_at = time.perf_counter()
        if self.finish_reason is None:
            self.finish_reason = FinishReason.ERROR.value
        return err

    async def aclose(self) -> None:
        """Stop the upstream call (the client went away, or the caller is done)."""
        self._stop_watch()
        gen, self._gen = self._gen, None
        if gen is not None and hasattr(gen, "aclose"):
            await gen.aclose()
        if self.ended_at is None and self.started_at is not None:
            self.ended_at = time.perf_counter()

    def usage_so_far(self) -> Usage:
        if self.completed and self.usage is not None:
            return self.usage
        reported = self.usage or Usage(source=USAGE_ESTIMATED)
        prompt = reported.prompt_tokens or estimate_tokens(
            "".join(m.content for m in self.request.messages)
        )
        produced = self.content
        if self._tool_calls is not None:  # a cut tool-call stream produced its calls too
            produced += "".join(c.name + c.arguments for c in self._tool_calls.calls())
        completion = max(reported.completion_tokens, estimate_tokens(produced))
        return Usage.of(
            prompt,
            completion,
            cached=reported.cached_tokens,
            reasoning=reported.reasoning_tokens,
            source=USAGE_ESTIMATED,
        )

    @property
    def latency_ms(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.ended_at or time.perf_counter()
        return (end - self.started_at) * 1000

    @property
    def ttft_ms(self) -> float | None:
        if self.started_at is None or self.first_chunk_at is None:
            return None
        return (self.first_chunk_at - self.started_at) * 1000

    @property
    def response(self) -> LLMResponse:
        if not self.completed:
            raise RuntimeError(
                "The stream has not completed; use usage_so_far() for partial usage."
            )
        return LLMResponse(
            content=self.content,
            model=self.model,
            provider=self.provider.name,
            usage=self.usage_so_far(),
            finish_reason=self.finish_reason or FinishReason.STOP.value,
            latency_ms=self.latency_ms,
            upstream_request_id=self.upstream_request_id,
            tool_calls=self.tool_calls,
            citations=self.citations,
            requested_model=self.request.model,
        )


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
            self.check_options(options)
        return ChatRequest(msgs, model or self.default_model, temperature, max_tokens, options)

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


def simple_messages(prompt: str, system: str | None = None) -> list[Message]:
    messages = [Message(Role.SYSTEM, system)] if system else []
    messages.append(Message(Role.USER, prompt))
    return messages


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
