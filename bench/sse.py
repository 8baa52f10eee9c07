"""An incremental Server-Sent Events parser and the stream formats the load generator checks.

The parser follows the WHATWG SSE spec (lines end with CRLF, LF or CR; ``data:`` lines of one
event are joined with ``\\n``; ``event:`` names it; a blank line dispatches it; ``:`` lines are
comments; one space after the colon is dropped; a half-received event at EOF is discarded). It
works on bytes and never decodes data, so the client stays cheaper than what it measures.

A *format* classifies each event as a token (a content delta), the end of the stream, an error,
or a finish marker (for wires such as Gemini's that end at EOF after a ``finishReason``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import orjson

TOKEN = 1
END = 2
ERROR = 4
FINISH = 8


class Event(NamedTuple):
    event: str
    data: bytes


class SSEParser:
    """Feed bytes as they arrive; get back the events they complete."""

    __slots__ = ("_buf", "_data", "_event")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[Event]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" not in buf and not self._data and not self._event:
            return self._feed_lf(buf)
        lines = buf.splitlines(keepends=True)
        # Hold back a last line with no terminator, or ending in a lone CR (its LF may follow).
        if lines and lines[-1][-1:] != b"\n":
            self._buf = lines.pop()
        else:
            self._buf = b""
        return self._lines(lines)

    def _feed_lf(self, buf: bytes) -> list[Event]:
        """Fast path for LF-only input at an event boundary (what every server here sends):
        split on blank lines; one-line ``data: ...`` events need no line parsing."""
        *blocks, self._buf = buf.split(b"\n\n")
        events: list[Event] = []
        for block in blocks:
            if block[:6] == b"data: " and b"\n" not in block:
                events.append(Event("message", block[6:]))
            else:
                events += self._lines([*block.split(b"\n"), b""])
        return events

    def close(self) -> list[Event]:
        """End of stream: a CR-terminated last line still counts; a pending event is dropped."""
        events: list[Event] = []
        if self._buf.endswith(b"\r"):
            events = self._lines([self._buf])
        self._buf = b""
        self._data = []
        self._event = ""
        return events

    def _lines(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = []
        for raw in lines:
            if raw.endswith(b"\r\n"):
                line = raw[:-2]
            elif raw.endswith((b"\n", b"\r")):
                line = raw[:-1]
            else:
                line = raw
            if not line:
                if self._data:
                    events.append(Event(self._event or "message", b"\n".join(self._data)))
                self._data = []
                self._event = ""
                continue
            if line[:1] == b":":
                continue
            field, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                self._data.append(value)
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
            # id and retry do not matter to a load generator.
        return events


def _json(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def openai_kind(ev: Event) -> int:
    if ev.data == b"[DONE]":
        return END
    obj = _json(ev.data)
    if not isinstance(obj, dict) or "error" in obj:
        return ERROR
    choices = obj.get("choices") or ()
    if choices and (choices[0].get("delta") or {}).get("content"):
        return TOKEN
    return 0


def anthropic_kind(ev: Event) -> int:
    if ev.event == "content_block_delta":
        obj = _json(ev.data)
        text = isinstance(obj, dict) and (obj.get("delta") or {}).get("text")
        return TOKEN if text else 0
    if ev.event == "message_stop":
        return END
    if ev.event == "error":
        return ERROR
    return 0


def gemini_kind(ev: Event) -> int:
    obj = _json(ev.data)
    if not isinstance(obj, dict) or "error" in obj:
        return ERROR
    kind = 0
    for candidate in obj.get("candidates") or ():
        parts = (candidate.get("content") or {}).get("parts") or ()
        if any(p.get("text") for p in parts):
            kind |= TOKEN
        if candidate.get("finishReason"):
            kind |= FINISH
    return kind


def gateway_kind(ev: Event) -> int:
    """The gateway's own SSE (ai/api/sse.py): ``{"type":"delta","content":...}`` frames, a
    ``{"type":"done",...}`` frame, then ``data: [DONE]``; failures are ``event: error``."""
    if ev.event == "error":
        return ERROR
    if ev.data == b"[DONE]":
        return END
    obj = _json(ev.data)
    if not isinstance(obj, dict):
        return ERROR
    kind = obj.get("type")
    if kind == "delta":
        return TOKEN if obj.get("content") else 0
    if kind == "error" or "error" in obj:
        return ERROR
    return 0


FORMATS: dict[str, Callable[[Event], int]] = {
    "openai": openai_kind,
    "anthropic": anthropic_kind,
    "gemini": gemini_kind,
    "gateway": gateway_kind,
}
