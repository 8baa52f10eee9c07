"""How the gateway's streams look on the wire: the frames :func:`ai.services.gateway.open_stream`
writes, and the response that carries them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ai.api.errors import describe, log_exception
from ai.api.sse import DONE_FRAME, data_frame, delta_frame, error_frame
from ai.providers.parts import ToolCallDelta


class StreamFrames:
    """The gateway's own frames (``ai.api.sse``). Another wire format (the OpenAI-compatible
    endpoint) subclasses it; relaying and recording stay in ``ai.services.gateway``."""

    def delta(self, content: str) -> bytes:
        return delta_frame(content)

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        """A piece of a streamed tool call: ``{"type": "tool_call", "index", "id", "name",
        "arguments"}`` (``id`` and ``name`` on an index's first piece, then null)."""
        return data_frame(
            {
                "type": "tool_call",
                "index": delta.index,
                "id": delta.id,
                "name": delta.name,
                "arguments": delta.arguments,
            }
        )

    def done(self, done: dict[str, Any]) -> Iterable[bytes]:
        """The frames ending a completed stream; ``done`` is the gateway's done event."""
        return (data_frame(done), DONE_FRAME)

    def error(self, status: int, error: dict[str, Any], request_id: str) -> bytes:
        """The last frame of a stream that failed after its first byte (``status`` is the one
        the error would have had before it)."""
        return error_frame(error["code"], error["message"], request_id)

    def failure(self, exc: BaseException, request_id: str) -> bytes:
        log_exception(exc, request_id)
        status, error, _ = describe(exc)
        return self.error(status, error, request_id)
