"""What the OpenAI-compatible surfaces answer: ``chat.completion`` bodies, the
``chat.completion.chunk`` frames of a stream, OpenAI's error object and usage object.

The request side is ``ai.api.openai_format``; the Responses API (``ai.api.responses_compat``)
shares :func:`openai_error` and :func:`openai_usage`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ai.api.sse import DONE_FRAME, data_frame
from ai.api.streaming import StreamFrames
from ai.providers.base import FinishReason
from ai.providers.parts import ToolCallDelta
from ai.services.gateway import Outcome

#: OpenAI's error ``type`` by status (the SDK picks its exception class by the status alone).
_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def openai_error(status: int, error: dict[str, Any]) -> dict[str, Any]:
    """The gateway's error object (``ai.api.errors.describe``) in OpenAI's shape. ``param`` is
    the first field the error names (``messages[1].content``, or the parameter a target
    refused)."""
    fields = error.get("fields") or {}
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return {
        "message": error.get("message", ""),
        "type": kind,
        "param": next(iter(fields), None),
        "code": error.get("code"),
    }


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The gateway's usage dict (``Usage.as_dict``) as OpenAI's ``usage`` object."""
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
        "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
        "completion_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
    }


def completion_id(request_id: str) -> str:
    return f"chatcmpl-{request_id}"


def openai_tool_calls(calls: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The gateway's tool calls (``gateway.tool_calls_json``) as OpenAI's ``tool_calls``."""
    return [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"]},
        }
        for call in calls
    ]


def _finish_reason(body: dict[str, Any]) -> str:
    # A model that called tools stopped to let them run, whatever its vendor called that.
    if body.get("tool_calls") and body["finish_reason"] == FinishReason.STOP:
        return FinishReason.TOOL_CALLS.value
    return str(body["finish_reason"])


def chat_completion(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A ``chat.completion`` from the gateway's JSON answer (``gateway.complete``). With tool
    calls, ``content`` is null unless the model also wrote text."""
    calls = body.get("tool_calls") or []
    message: dict[str, Any] = {
        "role": "assistant",
        "content": body["content"] if body["content"] or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = openai_tool_calls(calls)
    return {
        "id": completion_id(request_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(body),
            }
        ],
        "usage": openai_usage(body["usage"]),
        "system_fingerprint": None,
        # Perplexity's own field, kept where its clients read it.
        **({"citations": body["citations"]} if body.get("citations") else {}),
    }


class ChunkFrames(StreamFrames):
    """``chat.completion.chunk`` frames, as OpenAI sends them: a first chunk with the role,
    one per text delta or tool-call piece, one with the finish reason, the usage chunk
    (``choices: []``) when asked, then ``[DONE]``. A tool call's first chunk carries its
    ``index``, ``id``, ``type`` and ``function.name`` (arguments ""), the next ones
    ``function.arguments`` fragments only: the SDK's stream helpers reassemble them. A failure
    after the first byte is a last ``data: {"error": {...}}`` frame (the SDK raises
    ``APIError`` on it) and no ``[DONE]``. One instance per request."""

    def __init__(self, outcome: Outcome, include_usage: bool) -> None:
        self.outcome = outcome
        self.include_usage = include_usage
        self.id = completion_id(outcome.request_id)
        self.created = int(time.time())
        self.started = False
        self.calls: set[int] = set()  # the tool-call indexes whose first chunk is out

    def _chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any
    ) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.outcome.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            chunk["usage"] = None
        return data_frame({**chunk, **extra} if extra else chunk)

    def _start(self, content: str | None = "") -> bytes:
        # OpenAI's first chunk: content "" before text, null before tool calls.
        if self.started:
            return b""
        self.started = True
        return self._chunk({"role": "assistant", "content": content, "refusal": None})

    def delta(self, content: str) -> bytes:
        return self._start() + self._chunk({"content": content})

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        frames = self._start(None)
        if delta.index not in self.calls:
            self.calls.add(delta.index)
            first = {
                "index": delta.index,
                "id": delta.id,
                "type": "function",
                "function": {"name": delta.name, "arguments": ""},
            }
            frames += self._chunk({"tool_calls": [first]})
        if delta.arguments:
            piece = {"index": delta.index, "function": {"arguments": delta.arguments}}
            frames += self._chunk({"tool_calls": [piece]})
        return frames

    def done(self, done: dict[str, Any]) -> Iterable[bytes]:
        # Citations on the last chunk, as Perplexity sends them.
        extra = {"citations": done["citations"]} if done.get("citations") else {}
        yield self._start() + self._chunk({}, _finish_reason(done), **extra)
        if self.include_usage:
            yield data_frame(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": done["model"],
                    "choices": [],
                    "usage": openai_usage(done["usage"]),
                }
            )
        yield DONE_FRAME

    def error(self, status: int, error: dict[str, Any], request_id: str) -> bytes:
        return data_frame({"error": openai_error(status, error)})
