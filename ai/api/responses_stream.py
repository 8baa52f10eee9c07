"""A streamed OpenAI Responses answer: typed server-sent events, as OpenAI sends them.

Each frame is ``event: <type>`` and ``data: {"type": <type>, "sequence_number": n, ...}``::

    response.created, response.in_progress
    response.output_item.added          (a message, or a function_call with arguments "")
      response.content_part.added       (message: an empty output_text part)
      response.output_text.delta ...    (message)
      response.function_call_arguments.delta ...   (function_call)
      response.output_text.done, response.content_part.done
      / response.function_call_arguments.done
    response.output_item.done           (the item, completed)
    ... (one item after the other: text, then each function call)
    response.completed                  (the whole response, with usage)

An answer cut short by ``max_output_tokens`` (or a content filter) ends with
``response.incomplete`` instead. A failure after the first byte ends with an ``error`` event
and ``response.failed`` (the items so far), never ``response.completed``. No ``[DONE]``: the
Responses API has none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from ai.api.responses_format import (
    function_call_item,
    incomplete_reason,
    message_item,
    output_text,
    response_object,
)
from ai.api.sse import event_frame
from ai.api.streaming import StreamFrames
from ai.providers.parts import ToolCallDelta
from ai.services.gateway import Outcome


class ResponseFrames(StreamFrames):
    """The Responses API's events for one streamed answer (one instance per request).

    Items are written one after the other: a new kind of delta (text after a function call, or
    the next call) finishes the open item first. The final ``response`` holds the items exactly
    as their ``response.output_item.done`` events did, so the SDK's stream helper, which checks
    that they match, accepts it."""

    def __init__(self, outcome: Outcome, echo: Mapping[str, Any]) -> None:
        self.outcome = outcome
        self.request_id = outcome.request_id
        self.echo = echo
        self.created_at = int(time.time())
        self.sequence = 0
        self.started = False
        #: The output items so far, each as it stands (in progress or done).
        self.output: list[dict[str, Any]] = []
        #: The output index of the item being written, if any.
        self.open: int | None = None
        self.messages = 0
        #: Tool-call index (the provider's) -> output index.
        self.calls: dict[int, int] = {}
        self.text: list[str] = []

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event_frame(kind, payload)

    def _response(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("model", self.outcome.model)
        return response_object(self.request_id, self.echo, created_at=self.created_at, **fields)

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        response = self._response()
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def _open_message(self) -> bytes:
        index = len(self.output)
        # The first message has the id a non-streamed answer gives its message.
        item = message_item(self.request_id, "", "in_progress", number=self.messages)
        self.messages += 1
        self.output.append(item)
        self.open, self.text = index, []
        part = output_text("")
        return self._event(
            "response.output_item.added", output_index=index, item=item
        ) + self._event(
            "response.content_part.added",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            part=part,
        )

    def _open_call(self, delta: ToolCallDelta) -> bytes:
        index = len(self.output)
        call = {"id": delta.id or "", "name": delta.name or "", "arguments": ""}
        item = function_call_item(self.request_id, len(self.calls), call, "in_progress")
        self.output.append(item)
        self.calls[delta.index] = self.open = index
        return self._event("response.output_item.added", output_index=index, item=item)

    def _close(self, status: str = "completed") -> bytes:
        """Finish the open item (if any): its ``.done`` events, then ``output_item.done``."""
        index, self.open = self.open, None
        if index is None:
            return b""
        item = self.output[index]
        if item["type"] == "message":
            text = "".join(self.text)
            part = output_text(text)
            frames = self._event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            ) + self._event(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=part,
            )
            item = {**item, "content": [part]}
        else:
            frames = self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
        item = self.output[index] = {**item, "status": status}
        return frames + self._event("response.output_item.done", output_index=index, item=item)

    def delta(self, content: str) -> bytes:
        frames = self._start()
        if self.open is None or self.output[self.open]["type"] != "message":
            frames += self._close() + self._open_message()
        self.text.append(content)
        item_id = self.output[self.open]["id"]  # type: ignore[index]
        return frames + self._event(
            "response.output_text.delta",
            item_id=item_id,
            output_index=self.open,
            content_index=0,
            delta=content,
            logprobs=[],
        )

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        frames = self._start()
        index = self.calls.get(delta.index)
        if index is None:
            frames += self._close() + self._open_call(delta)
            index = self.open
        item = self.output[index]  # type: ignore[index]
        if not delta.arguments:
            return frames
        item["arguments"] += delta.arguments
        return frames + self._event(
            "response.function_call_arguments.delta",
            item_id=item["id"],
            output_index=index,
            delta=delta.arguments,
        )

    def done(self, done: dict[str, Any]) -> Iterable[bytes]:
        frames = self._start()
        if not self.output:  # nothing was said: one empty message, as a JSON answer has
            frames += self._open_message()
        finish = done["finish_reason"]
        incomplete = incomplete_reason(finish) is not None
        frames += self._close("incomplete" if incomplete else "completed")
        response = self._response(
            model=done["model"], output=self.output, usage=done["usage"], finish_reason=finish
        )
        kind = "response.incomplete" if incomplete else "response.completed"
        return (frames + self._event(kind, response=response),)

    def error(self, status: int, error: dict[str, Any], request_id: str) -> bytes:
        """An ``error`` event (the gateway's code and message, the field it names), then
        ``response.failed`` with the items so far (the open one ``incomplete``) and, as OpenAI's
        ``ResponseError`` has a fixed set of codes, ``server_error`` or ``rate_limit_exceeded``."""
        fields = error.get("fields") or {}
        message = error.get("message", "")
        if self.open is not None:  # left unfinished, as it stands
            item = {**self.output[self.open], "status": "incomplete"}
            if item["type"] == "message":
                item["content"] = [output_text("".join(self.text))]
            self.output[self.open] = item
        code = "rate_limit_exceeded" if status == 429 else "server_error"
        failed = self._response(
            status="failed",
            output=self.output,
            error={"code": code, "message": message},
        )
        return (
            self._start()
            + self._event(
                "error",
                code=error.get("code"),
                message=message,
                param=next(iter(fields), None),
            )
            + self._event("response.failed", response=failed)
        )
