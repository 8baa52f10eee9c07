"""What the Anthropic-compatible endpoints answer, in the Messages API's shapes: the message,
its stream events, errors and token counts. The request side is ``ai.api.anthropic_format``.

Usage: the gateway's ``prompt_tokens`` include cached and cache-writing tokens; Anthropic
reports the rest as ``input_tokens``, the cached ones as ``cache_read_input_tokens`` and the
written ones as ``cache_creation_input_tokens`` (only Anthropic writes on request: 0 from the
other vendors, which cache on their own).

``stop_reason`` is ``stop_sequence``, naming it, when the upstream said which stop sequence
ended the answer (Anthropic does; OpenAI and Gemini report an ordinary stop: ``end_turn``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ai.api.sse import event_frame
from ai.api.streaming import StreamFrames
from ai.providers.base import FinishReason
from ai.providers.parts import ToolCallDelta
from ai.services.gateway import Outcome

logger = logging.getLogger("ai.api")

STOP_REASONS = {
    FinishReason.STOP.value: "end_turn",
    FinishReason.LENGTH.value: "max_tokens",
    FinishReason.TOOL_CALLS.value: "tool_use",
    FinishReason.CONTENT_FILTER.value: "refusal",
}

#: Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def message_id(request_id: str) -> str:
    return f"msg_{request_id}"


def stop_reason(finish_reason: str | None, stop_sequence: str | None = None) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    return STOP_REASONS.get(finish_reason or "", "end_turn")


def anthropic_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The gateway's usage dict (``Usage.as_dict``) as Anthropic's ``usage`` object."""
    cached = usage["cached_tokens"]
    written = usage.get("cache_write_tokens", 0)
    return {
        "input_tokens": max(usage["prompt_tokens"] - cached - written, 0),
        "output_tokens": usage["completion_tokens"],
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the ``input`` object Anthropic's blocks carry ({} for
    arguments that are not a JSON object: a model may write broken JSON)."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        logger.warning("tool call arguments are not a JSON object; sent as {}")
        return {}
    return value


def content_blocks(text: str, tool_calls: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A text block when there is text (none for an empty answer, as Anthropic answers it:
    an empty text block would be refused if sent back), then a tool_use block per call."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    blocks.extend(
        {"type": "tool_use", "id": c["id"], "name": c["name"], "input": tool_input(c["arguments"])}
        for c in tool_calls
    )
    return blocks


def message(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A ``message`` from the gateway's JSON answer (``gateway.complete``)."""
    return {
        "id": message_id(request_id),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content_blocks(body["content"], body.get("tool_calls") or ()),
        "stop_reason": stop_reason(body["finish_reason"], body.get("stop_sequence")),
        "stop_sequence": body.get("stop_sequence"),
        "usage": anthropic_usage(body["usage"]),
    }


def anthropic_error(status: int, error: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """The gateway's error object (``ai.api.errors.describe``) in Anthropic's shape, with the
    gateway's own ``code`` (and ``fields`` for a bad body) added to the error."""
    kind = ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    detail: dict[str, Any] = {"type": kind, "message": error.get("message", "")}
    if error.get("code"):
        detail["code"] = error["code"]
    if error.get("fields"):
        detail["fields"] = error["fields"]
    return {"type": "error", "error": detail, "request_id": request_id}


class MessageFrames(StreamFrames):
    """The Messages API's stream: ``message_start``; per content block ``content_block_start``,
    its ``content_block_delta`` events (``text_delta`` or ``input_json_delta``) and
    ``content_block_stop`` (a text block closes before a tool_use block opens, indexes count
    up); then ``message_delta`` (stop reason, usage) and ``message_stop``. A failure after the
    first byte is ``event: error``. One instance per request.

    ``message_start`` carries an estimate of the input tokens (the stream has not reported
    them yet); ``message_delta`` carries the real counts, which the SDK's stream helpers keep."""

    def __init__(self, outcome: Outcome, input_tokens: int) -> None:
        self.outcome = outcome
        self.input_tokens = input_tokens
        self.started = False
        #: The index of the next block, the open one's (None when none is open) and its kind.
        self.blocks = 0
        self.open: int | None = None
        self.text_open = False
        #: Tool call index (the core's) -> content block index.
        self.tools: dict[int, int] = {}

    def _start(self) -> Iterator[bytes]:
        if self.started:
            return
        self.started = True
        yield event_frame(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id(self.outcome.request_id),
                    "type": "message",
                    "role": "assistant",
                    "model": self.outcome.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
                },
            },
        )

    def _open(self, block: dict[str, Any], text: bool) -> Iterator[bytes]:
        yield from self._close()
        self.open, self.text_open = self.blocks, text
        self.blocks += 1
        yield event_frame(
            "content_block_start",
            {"type": "content_block_start", "index": self.open, "content_block": block},
        )

    def _close(self) -> Iterator[bytes]:
        if self.open is not None:
            yield event_frame(
                "content_block_stop", {"type": "content_block_stop", "index": self.open}
            )
            self.open, self.text_open = None, False

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return event_frame(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )

    def delta(self, content: str) -> bytes:
        frames = list(self._start())
        if not self.text_open:
            frames.extend(self._open({"type": "text", "text": ""}, text=True))
        frames.append(self._delta(self.open, {"type": "text_delta", "text": content}))  # type: ignore[arg-type]
        return b"".join(frames)

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        frames = list(self._start())
        index = self.tools.get(delta.index)
        if index is None:
            block = {"type": "tool_use", "id": delta.id, "name": delta.name, "input": {}}
            frames.extend(self._open(block, text=False))
            index = self.tools[delta.index] = self.open  # type: ignore[assignment]
        if delta.arguments:
            frames.append(
                self._delta(index, {"type": "input_json_delta", "partial_json": delta.arguments})
            )
        return b"".join(frames)

    def done(self, done: dict[str, Any]) -> Iterable[bytes]:
        frames = list(self._start())
        frames.extend(self._close())
        matched = done.get("stop_sequence")
        frames.append(
            event_frame(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": stop_reason(done["finish_reason"], matched),
                        "stop_sequence": matched,
                    },
                    "usage": anthropic_usage(done["usage"]),
                },
            )
        )  # fmt: skip
        frames.append(event_frame("message_stop", {"type": "message_stop"}))
        return frames

    def error(self, status: int, error: dict[str, Any], request_id: str) -> bytes:
        return event_frame("error", anthropic_error(status, error, request_id))
