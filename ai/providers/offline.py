"""The offline provider: deterministic answers with no network, like Django's locmem email backend.

It echoes a summary of the last user message, streams it word by word and reports usage counted
the same way every time, so host projects can test code that calls the gateway, and the example
project runs out of the box with no API key. Whatever model it is asked for (in offline mode a
route's real model, e.g. ``gpt-4o``), it answers as ``offline-echo``, so an offline answer, its
ledger row and its zero cost are never taken for a real model's; the text still names the model
asked for (``[offline:gpt-4o] You said: ...``), and so does the row's ``requested_model``.

Enabled by ``AI_OFFLINE_ENABLED``; ``AI_OFFLINE_DELAY_MS`` adds a pause before the answer (and
between streamed words, divided by the word count) to imitate a real upstream.

It stands in for every vendor, so it accepts every option. With tools (and a tool choice that
allows them) it calls the forced tool, else the first, with a sample of its arguments (every
required property: strings "example", numbers 1, booleans true...); after a tool result it
answers ``[offline:<model>] The tool said: <result>``; asked for a JSON schema it answers a
sample of the schema as JSON text. Tool-calling code can be tested with no network.

Embeddings (model ``offline-embed``, reported whatever model was asked): each input's vector is
the sum of one pseudo-random vector per lowercased word (``random.Random(word)``, whose
``random()`` sequence Python keeps stable across versions), scaled to unit length. So a text
always gets the same vector, in every process and version; texts sharing words are closer
(cosine) than texts that share none, which is enough to try a pgvector search offline. Vectors
have :data:`EMBEDDING_DIMENSIONS` (8) values unless ``dimensions`` asks for another size; usage
is one token per word (at least one per input).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from ai.conf import ai_settings
from ai.providers.base import (
    BaseLLMProvider,
    ChatRequest,
    EmbeddingResponse,
    FinishReason,
    LLMResponse,
    LLMStream,
    Role,
    Usage,
)
from ai.providers.parts import (
    FUNCTION,
    JSON_OBJECT,
    JSON_SCHEMA,
    NONE,
    OPTION_NAMES,
    ToolCall,
    ToolCallDelta,
)


def sample(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """A value for each required property of a JSON Schema object (all when none is listed)."""
    schema = schema or {}
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or list(props):
        prop = props.get(name) or {}
        kind = prop.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        kind = str(kind or "string").lower()
        if prop.get("enum"):
            out[name] = prop["enum"][0]
        else:
            out[name] = {"integer": 1, "number": 1, "boolean": True, "array": []}.get(kind)
            if kind == "object":
                out[name] = sample(prop)
            elif out[name] is None:
                out[name] = "example"
    return out


def tool_calls_for(request: ChatRequest) -> tuple[ToolCall, ...]:
    """The call the offline model makes: none without tools, when tools are forbidden, or when
    the last turn is already a tool result."""
    options = request.options
    choice = options.tool_choice
    if not options.tools or (choice is not None and choice.mode == NONE):
        return ()
    if request.messages[-1].role is Role.TOOL:
        return ()
    name = choice.name if choice is not None and choice.mode == FUNCTION else None
    tool = next((t for t in options.tools if t.name == name), options.tools[0])
    arguments = orjson.dumps(sample(tool.parameters)).decode()
    digest = hashlib.sha256(f"{len(request.messages)}:{tool.name}".encode()).hexdigest()[:24]
    return (ToolCall(f"call_{digest}", tool.name, arguments),)


def _words(text: str) -> int:
    return len(text.split())


#: The model every offline answer reports.
ECHO_MODEL = "offline-echo"
#: The model every offline embedding reports, and the size of its vectors by default.
EMBED_MODEL = "offline-embed"
EMBEDDING_DIMENSIONS = 8
_WORD = re.compile(r"\w+")


def embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """The offline provider's vector for ``text``: deterministic, unit length (see the module
    docstring)."""
    total = [0.0] * dimensions
    for word in _WORD.findall(text.lower()) or [text]:  # no word at all: the text itself
        rng = random.Random(word)
        for i in range(dimensions):
            total[i] += rng.random() * 2 - 1
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    return [v / norm for v in total]


class OfflineProvider(BaseLLMProvider):
    name = "offline"
    default_model = ECHO_MODEL
    default_embedding_model = EMBED_MODEL
    supported_options = frozenset(OPTION_NAMES)
    passes_extra = True

    @staticmethod
    def answer(request: ChatRequest) -> str:
        last = request.messages[-1]
        if last.role is Role.TOOL:
            return f"[offline:{request.model}] The tool said: {last.content.strip()}"
        response_format = request.options.response_format
        if response_format is not None and response_format.type == JSON_SCHEMA:
            return orjson.dumps(sample(response_format.schema)).decode()
        if response_format is not None and response_format.type == JSON_OBJECT:
            return '{"answer": "offline"}'
        last_user = next((m.content for m in reversed(request.messages) if m.role is Role.USER), "")
        text = f"[offline:{request.model}] You said: {last_user.strip()}"
        if request.max_tokens is not None:
            text = " ".join(text.split()[: request.max_tokens])
        return text

    @staticmethod
    def usage(request: ChatRequest, text: str) -> Usage:
        # One token per whitespace-separated word (+1 per message for its role): predictable.
        prompt = sum(_words(m.content) + 1 for m in request.messages)
        return Usage.of(prompt, _words(text))

    @staticmethod
    def finish_reason(request: ChatRequest, text: str) -> str:
        truncated = request.max_tokens is not None and _words(text) >= request.max_tokens
        return FinishReason.LENGTH.value if truncated else FinishReason.STOP.value

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        delay = ai_settings.AI_OFFLINE_DELAY_MS / 1000
        if delay:
            await asyncio.sleep(delay)
        calls = tool_calls_for(request)
        text = "" if calls else self.answer(request)
        return LLMResponse(
            content=text,
            model=ECHO_MODEL,
            provider=self.name,
            usage=self.usage(request, text + "".join(c.arguments for c in calls)),
            finish_reason=FinishReason.TOOL_CALLS.value
            if calls
            else self.finish_reason(request, text),
            latency_ms=0.0,
            tool_calls=calls,
        )

    async def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]:
        stream.model = ECHO_MODEL
        calls = tool_calls_for(request)
        if calls:
            for index, call in enumerate(calls):
                yield ToolCallDelta(index, call.id, call.name)
                yield ToolCallDelta(index, arguments=call.arguments)
            stream.usage = self.usage(request, "".join(c.arguments for c in calls))
            stream.finish_reason = FinishReason.TOOL_CALLS.value
            return
        text = self.answer(request)
        words = text.split(" ")
        pause = ai_settings.AI_OFFLINE_DELAY_MS / 1000 / max(len(words), 1)
        for i, word in enumerate(words):
            if pause:
                await asyncio.sleep(pause)
            yield word if i == 0 else " " + word
        stream.usage = self.usage(request, text)
        stream.finish_reason = self.finish_reason(request, text)

    async def _embed(
        self, inputs: list[str], model: str, dimensions: int | None
    ) -> EmbeddingResponse:
        delay = ai_settings.AI_OFFLINE_DELAY_MS / 1000
        if delay:
            await asyncio.sleep(delay)
        size = dimensions or EMBEDDING_DIMENSIONS
        tokens = sum(max(1, len(_WORD.findall(text))) for text in inputs)
        return EmbeddingResponse(
            vectors=[embedding(text, size) for text in inputs],
            model=EMBED_MODEL,
            provider=self.name,
            usage=Usage.of(tokens, 0),
        )
