"""The LLM interface's value objects: what a provider is asked (:class:`ChatRequest` of
:class:`Message` turns) and what it answers (:class:`LLMResponse`, :class:`Usage`,
:class:`EmbeddingResponse`), in one vocabulary for every vendor and surface. Images, tools and
options are in :mod:`ai.providers.parts`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ai.providers.parts import NO_OPTIONS, ChatOptions, Part, TextPart, ToolCall


class ModelComplexity(StrEnum):
    """How hard a request is; the router picks provider and model from it."""

    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"
    SEARCH = "search"


#: What a failed tool's result says first where the vendor has no error flag (OpenAI, the
#: OpenAI-compatible ones).
TOOL_ERROR_PREFIX = "Error: "


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
    cache read); ``parts`` is set when the turn has more than text (images) or a prompt-cache
    breakpoint inside it, in order, text parts included. An assistant turn may carry
    ``tool_calls``; a ``TOOL`` turn answers the call ``tool_call_id`` (of function ``name``)
    with ``content`` as the result, ``is_error`` when the tool failed (Anthropic's
    ``tool_result.is_error``; vendors without such a flag get :data:`TOOL_ERROR_PREFIX` in
    front of the text). ``cache`` marks a prompt-cache breakpoint after the whole turn."""

    role: Role
    content: str
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    #: A prompt-cache breakpoint after this turn (see ``ai.providers.parts.TextPart.cache``).
    cache: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            object.__setattr__(self, "role", Role(self.role))
        if not isinstance(self.content, str):
            raise TypeError(f"Message content must be str, not {type(self.content).__name__}")

    @classmethod
    def of_parts(cls, role: Role, parts: Sequence[Part], **kw: Any) -> Message:
        """A turn from its parts: plain text when they are all text (joined by newlines)."""
        text = "\n".join(p.text for p in parts if isinstance(p, TextPart))
        rich = any(not isinstance(p, TextPart) or p.cache for p in parts)
        return cls(role, text, tuple(parts) if rich else (), **kw)

    @property
    def has_media(self) -> bool:
        """Whether the turn has more than text: a vendor without prompt-cache breakpoints then
        sends its ``content`` as the one text it is (text parts are kept apart only for them)."""
        return bool(self.parts) and any(not isinstance(p, TextPart) for p in self.parts)

    def content_parts(self) -> tuple[Part, ...]:
        """The turn's content as parts (one text part for a plain-text turn)."""
        if self.parts:
            return self.parts
        return (TextPart(self.content),) if self.content else ()

    def canonical(self) -> list[Any]:
        """A JSON-able value equal for equal turns (the response cache's key)."""
        out: list[Any] = [self.role.value, self.content]
        # Text parts kept apart only for a cache breakpoint say what the content says.
        parts = self.parts if self.has_media else ()
        if parts or self.tool_calls or self.tool_call_id:
            out.append([[type(p).__name__, *_fields(p)] for p in parts])
            out.append([[c.id, c.name, c.arguments] for c in self.tool_calls])
            out.append(self.tool_call_id)
        if self.is_error:
            out.append(True)
        return out

    @property
    def result_text(self) -> str:
        """A tool turn's text for a vendor without an error flag: :data:`TOOL_ERROR_PREFIX`
        in front of a failed tool's result."""
        return TOOL_ERROR_PREFIX + self.content if self.is_error else self.content


def _fields(obj: Any) -> list[Any]:
    # Not the cache breakpoint: it changes what a call costs, never its answer.
    return [getattr(obj, name) for name in obj.__slots__ if name != "cache"]


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
    #: Prompt tokens written to the vendor's prompt cache (Anthropic's
    #: ``cache_creation_input_tokens``: dearer than input), part of ``prompt_tokens``.
    cache_write_tokens: int = 0
    #: Of those, the ones kept an hour rather than five minutes (dearer still).
    cache_write_1h_tokens: int = 0

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
        cache_write: int = 0,
        cache_write_1h: int = 0,
    ) -> Usage:
        prompt, completion = int(prompt or 0), int(completion or 0)
        cache_write = int(cache_write or 0)
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=int(total) if total else prompt + completion,
            cached_tokens=int(cached or 0),
            reasoning_tokens=int(reasoning or 0),
            source=source,
            cache_write_tokens=cache_write,
            cache_write_1h_tokens=min(int(cache_write_1h or 0), cache_write),
        )

    def as_dict(self) -> dict[str, int | str]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cache_write_tokens": self.cache_write_tokens,
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
    #: The stop sequence that ended the answer, when the vendor says which (Anthropic).
    stop_sequence: str | None = None
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
    return estimate_chars(len(text))


def estimate_chars(chars: int) -> int:
    """:func:`estimate_tokens` of a text of ``chars`` characters."""
    return math.ceil(chars / 4) if chars > 0 else 0


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    """:func:`estimate_tokens` of the messages' text, joined (without joining it)."""
    return estimate_chars(sum(len(m.content) for m in messages))


def estimated_usage(
    request: ChatRequest, content: str, tool_calls: Sequence[ToolCall] = ()
) -> Usage:
    """Usage for an answer the upstream reported none for: the prompt's text and the answer's
    (its tool calls' names and arguments included), estimated."""
    prompt = estimate_prompt_tokens(request.messages)
    completion = content + "".join(c.name + c.arguments for c in tool_calls)
    return Usage.of(prompt, estimate_tokens(completion), source=USAGE_ESTIMATED)


def split_system(messages: Iterable[Message]) -> tuple[str | None, list[Message]]:
    """Separate system messages (joined by blank lines) from the conversation, for vendors that
    take the system prompt as its own parameter (Anthropic, Gemini)."""
    system: list[str] = []
    rest: list[Message] = []
    for message in messages:
        (system.append(message.content) if message.role is Role.SYSTEM else rest.append(message))
    return ("\n\n".join(system) if system else None), rest


def simple_messages(prompt: str, system: str | None = None) -> list[Message]:
    messages = [Message(Role.SYSTEM, system)] if system else []
    messages.append(Message(Role.USER, prompt))
    return messages
