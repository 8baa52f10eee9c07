"""Reading text/event-stream the way a client does: frames split on a blank line, then
``event:`` / ``data:`` fields (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Frame:
    event: str
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


def parse_sse(raw: bytes) -> list[Frame]:
    text = raw.decode("utf-8").replace("\r\n", "\n")
    assert text.endswith("\n\n"), f"stream does not end on a frame boundary: {text[-40:]!r}"
    frames = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
        frames.append(Frame(event, "\n".join(data)))
    return frames


def split_stream(frames: list[Frame]) -> tuple[list[str], dict | None, bool, dict | None]:
    """``(delta contents, done payload, saw [DONE], error payload)``."""
    deltas: list[str] = []
    done = error = None
    finished = False
    for frame in frames:
        if frame.data == "[DONE]":
            finished = True
            continue
        payload = frame.json()
        if frame.event == "error":
            assert payload["type"] == "error"
            error = payload
        elif payload["type"] == "delta":
            deltas.append(payload["content"])
        elif payload["type"] == "done":
            done = payload
    return deltas, done, finished, error
