"""Server-Sent Events decoding for providers that read their streams raw (no typed SDK objects).

Follows https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation.
Shared by any vendor whose stream is SSE; the caller decides what ``data`` means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Incremental SSE parser: ``feed(bytes)`` returns the events that chunk completed.

    Each event is ``(event name or None, data)``. Lines end with CRLF, LF or CR (also split
    across chunks); ``data:`` lines are joined with LF; one space after the colon is dropped;
    comments (``:``), ``id`` and ``retry`` are ignored; a blank line dispatches; an event with no
    ``data`` line is not dispatched; an unterminated event at the end of the body is discarded
    (never call it complete).
    """

    __slots__ = ("_data", "_event", "_pending", "_started", "_stray")

    def __init__(self, *, keep_stray: bool = False) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self._event: str | None = None
        self._started = False
        # Lines that are no SSE field at all (Google may send a bare JSON error object in a
        # stream): kept only when asked for, and returned by leftover().
        self._stray: list[bytes] | None = [] if keep_stray else None

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        if (
            self._started
            and not self._pending
            and not self._data
            and chunk.startswith(b"data: ")
            and chunk.endswith(b"\n\n")
            and chunk.count(b"\n") == 2
            and b"\r" not in chunk
        ):
            # One whole ``data:`` event, as a paced stream's reads bring them: what the general
            # path below would return, without splitting lines (a held stream's every delta).
            event, self._event = self._event, None
            return [(event, chunk[6:-2])]
        buffer = self._pending + chunk if self._pending else chunk
        if not self._started and buffer:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._pending = buffer  # may still become a BOM
                return []
            self._started = True
            buffer = buffer.removeprefix(_BOM)
        # A trailing CR may be the first half of a CRLF split across chunks: keep it back.
        cut = len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer)
        lines = buffer[:cut].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._pending = lines.pop() + buffer[cut:]
        events: list[tuple[str | None, bytes]] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append((self._event, b"\n".join(self._data)))
                self._data, self._event = [], None
                continue
            field, colon, value = line.partition(b":")
            if not field:
                continue  # a comment
            if colon and value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                self._data.append(value)
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
            elif self._stray is not None and field not in (b"id", b"retry"):
                self._stray.append(line)
        return events

    def leftover(self) -> list[bytes]:
        """The lenient end of a body, as google-genai's own reader does it: the data of an event
        left without its blank line, then any stray lines joined (with ``keep_stray``)."""
        events = (
            [data for _, data in self.feed(b"\n\n")] if self._pending.strip() or self._data else []
        )
        stray = self._stray or []
        return [*events, b"\n".join(stray)] if stray else events

    def end(self) -> list[tuple[str | None, bytes]]:
        """Call at the end of the body: a held-back trailing CR was a line end after all.
        Whatever event is still unterminated is discarded."""
        if self._pending.endswith(b"\r"):
            return self.feed(b"\n")
        return []


async def aiter_sse(
    read: Callable[[], Awaitable[bytes]],
) -> AsyncIterator[tuple[str, bytes]]:
    """``(event name, data)`` for each event of a byte stream, read by ``read()`` until it
    returns ``b""`` (``ai._compat.aiohttp_body.reader``; name ``"message"`` when the event had
    no ``event:`` line, as the spec says)."""
    decoder = SSEDecoder()
    while chunk := await read():
        for event, data in decoder.feed(chunk):
            yield event or "message", data
    for event, data in decoder.end():
        yield event or "message", data
