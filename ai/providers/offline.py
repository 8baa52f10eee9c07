"""The offline provider: deterministic answers with no network, like Django's locmem email backend.

It echoes a summary of the last user message, streams it word by word and reports usage counted
the same way every time, so host projects can test code that calls the gateway, and the example
project runs out of the box with no API key. Whatever model it is asked for (in offline mode a
route's real model, e.g. ``gpt-4o``), it answers as ``offline-echo``, so an offline answer, its
ledger row and its zero cost are never taken for a real model's; the text still names the model
asked for (``[offline:gpt-4o] You said: ...``), and so does the row's ``requested_model``.

Enabled by ``AI_OFFLINE_ENABLED``; ``AI_OFFLINE_DELAY_MS`` adds a pause before the answer (and
between streamed words, divided by the word count) to imitate a real upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ai.conf import ai_settings
from ai.providers.base import (
    BaseLLMProvider,
    ChatRequest,
    FinishReason,
    LLMResponse,
    LLMStream,
    Role,
    Usage,
)


def _words(text: str) -> int:
    return len(text.split())


#: The model every offline answer reports.
ECHO_MODEL = "offline-echo"


class OfflineProvider(BaseLLMProvider):
    name = "offline"
    default_model = ECHO_MODEL

    @staticmethod
    def answer(request: ChatRequest) -> str:
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
        text = self.answer(request)
        return LLMResponse(
            content=text,
            model=ECHO_MODEL,
            provider=self.name,
            usage=self.usage(request, text),
            finish_reason=self.finish_reason(request, text),
            latency_ms=0.0,
        )

    async def _stream_chunks(self, request: ChatRequest, stream: LLMStream) -> AsyncIterator[str]:
        stream.model = ECHO_MODEL
        text = self.answer(request)
        words = text.split(" ")
        pause = ai_settings.AI_OFFLINE_DELAY_MS / 1000 / max(len(words), 1)
        for i, word in enumerate(words):
            if pause:
                await asyncio.sleep(pause)
            yield word if i == 0 else " " + word
        stream.usage = self.usage(request, text)
        stream.finish_reason = self.finish_reason(request, text)
