"""A streamed answer: :class:`LLMStream`, what ``BaseLLMProvider.stream`` returns. The
gateway's first-byte and idle deadlines (:mod:`ai.providers.deadlines`), error translation and
partial usage of cut streams live here once, for every vendor."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Protocol

from ai.exceptions import AIError, UpstreamStreamError, UpstreamTimeoutError
from ai.providers.deadlines import IdleWatch, first_byte_timeout, idle_timeout
from ai.providers.messages import (
    USAGE_ESTIMATED,
    ChatRequest,
    FinishReason,
    LLMResponse,
    Usage,
    estimate_chars,
    estimate_prompt_tokens,
)
from ai.providers.parts import ToolCall, ToolCallBuilder, ToolCallDelta


class StreamingProvider(Protocol):
    """What a stream needs of its provider (:class:`ai.providers.base.BaseLLMProvider`)."""

    name: str

    def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]: ...

    def translate_error(self, exc: BaseException, *, model: str | None = None) -> AIError: ...


class LLMStream:
    """An async iterator of deltas from one upstream call, with usage at its end: content
    (``str``) and, when the model calls tools, :class:`ToolCallDelta` pieces.

    ``await stream.start()`` opens the upstream call and waits for its first delta, so that
    authentication, rate limits and connection failures raise before a caller commits to a
    response; iterating starts it too. After the iteration ends, ``response`` holds the whole
    :class:`LLMResponse`. ``usage_so_far()`` gives counts at any time: the upstream's own when it
    reported them, else an estimate from what was produced (``source == "estimated"``).
    """

    def __init__(self, provider: StreamingProvider, request: ChatRequest) -> None:
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
        self.error: AIError | None = None
        #: The text deltas so far (None once the caller said it will not read the content:
        #: then only their length is counted, in ``_forgotten``).
        self._parts: list[str] | None = []
        self._forgotten = 0
        self._tool_calls: ToolCallBuilder | None = None
        #: The URLs a search model cites, as the provider reads them from the stream.
        self.citations: tuple[str, ...] = ()
        #: The stop sequence that ended the stream, when the vendor says which.
        self.stop_sequence: str | None = None
        self._gen: AsyncIterator[str | ToolCallDelta] | None = None
        self._pending: str | ToolCallDelta | None = None
        #: Enforces AI_IDLE_TIMEOUT between deltas once the first one came.
        self._idle: IdleWatch | None = None
        #: The prompt's estimated tokens, kept when the messages are let go (:meth:`start`).
        self._prompt_estimate: int | None = None

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def content(self) -> str:
        """The text so far; empty after :meth:`forget_content`."""
        return "" if self._parts is None else "".join(self._parts)

    def forget_content(self) -> None:
        """The caller relays the deltas and will not read ``content`` (nor ``response.content``):
        keep their length, for the usage estimate of a cut stream, not their text. A held
        stream's memory then does not grow with its answer."""
        if self._parts is not None:
            self._forgotten += sum(map(len, self._parts))
            self._parts = None

    async def start(self) -> None:
        if self.started_at is not None:
            return
        self.started_at = time.perf_counter()
        # Read directly, no generator of ours around it: a held stream's every delta climbs
        # each level of generators and each level is kept alive for the stream's whole life.
        self._gen = aiter(self.provider._stream_chunks(self.request, self))
        seconds = first_byte_timeout()
        try:
            async with asyncio.timeout(seconds):
                self._pending = await self.__anext__()
        except StopAsyncIteration:
            self._pending = None
        except TimeoutError:
            raise self._failed(self._timed_out("its first delta", seconds)) from None
        if not self.completed and self.error is None:
            self._idle = IdleWatch(idle_timeout())
        # Sent and answered: a held stream no longer keeps the chat's messages (the provider's
        # stream lets go of its request too); a cut stream's prompt estimate is kept instead.
        self._prompt_estimate = estimate_prompt_tokens(self.request.messages)
        self.request = dataclasses.replace(self.request, messages=())

    def _timed_out(self, what: str, seconds: float) -> UpstreamTimeoutError:
        return UpstreamTimeoutError(
            f"{self.provider.name} sent {what} after more than {seconds:g} s.",
            provider=self.provider.name,
            model=self.model,
            request_id=self.upstream_request_id,
        )

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> str | ToolCallDelta:
        """The next delta (iterating starts the stream); ``StopAsyncIteration`` once the
        upstream ended it, or after the stream failed or was closed."""
        pending = self._pending
        if pending is not None:  # the first delta, read by start()
            self._pending = None
            return pending
        gen = self._gen
        if gen is None:
            if self.started_at is None:
                await self.start()
                return await self.__anext__()
            raise StopAsyncIteration  # closed
        if self.completed or self.error is not None:
            raise StopAsyncIteration
        # Only the provider's generator returning by itself ends a stream. One closed from
        # outside (asyncio's shutdown_asyncgens) stops too, but it had no frame left before
        # it was asked (``ag_frame`` is None once an async generator is finished).
        suspended = getattr(gen, "ag_frame", True) is not None
        watch = self._idle
        if watch is not None:
            watch.waiting()
        try:
            chunk = await gen.__anext__()
        except asyncio.CancelledError:
            if watch is not None and watch.expired():  # AI_IDLE_TIMEOUT, not the client
                raise self._failed(self._timed_out("no delta", watch.seconds)) from None
            raise
        except StopAsyncIteration:
            if not suspended:
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
            if self._parts is None:
                self._forgotten += len(chunk)
            else:
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
        self._pending = None
        gen, self._gen = self._gen, None
        if gen is not None and hasattr(gen, "aclose"):
            await gen.aclose()
        if self.ended_at is None and self.started_at is not None:
            self.ended_at = time.perf_counter()

    def usage_so_far(self) -> Usage:
        if self.completed and self.usage is not None:
            return self.usage
        reported = self.usage or Usage(source=USAGE_ESTIMATED)
        prompt = reported.prompt_tokens or (
            estimate_prompt_tokens(self.request.messages)
            if self._prompt_estimate is None
            else self._prompt_estimate
        )
        produced = self.content
        if self._tool_calls is not None:  # a cut tool-call stream produced its calls too
            produced += "".join(c.name + c.arguments for c in self._tool_calls.calls())
        # The forgotten text counts as estimate_tokens counts it: by its length.
        completion = max(
            reported.completion_tokens, estimate_chars(len(produced) + self._forgotten)
        )
        return Usage.of(
            prompt,
            completion,
            cached=reported.cached_tokens,
            cache_write=reported.cache_write_tokens,
            cache_write_1h=reported.cache_write_1h_tokens,
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
            stop_sequence=self.stop_sequence,
            requested_model=self.request.model,
        )
