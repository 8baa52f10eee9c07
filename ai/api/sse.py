"""Server-sent events: the frames the streaming endpoints write, and the response that carries them.

Wire format (``text/event-stream``), one frame per line group, frames separated by a blank line::

    data: {"type":"delta","content":"Hel"}

    data: {"type":"delta","content":"lo"}

    data: {"type":"done","id":"<request id>","model":"...","provider":"...",
           "finish_reason":"stop","usage":{...},"latency_ms":812.4,"ttft_ms":95.1,"cost":"0.0012"}

    data: [DONE]

A failure after the first byte ends the stream with an error frame and *no* ``[DONE]``::

    event: error
    data: {"type":"error","error":{"code":"upstream_connection_error","message":"..."},"id":"..."}

orjson never writes a raw newline inside a JSON value, so every payload fits one ``data:`` line.
"""

from __future__ import annotations

import gzip
import io
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from http.cookies import SimpleCookie
from typing import Any

import orjson
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import ResponseHeaders

from ai._compat import django as compat
from ai.api import keepalive
from ai.conf import ai_settings

CONTENT_TYPE = "text/event-stream"
DONE_FRAME = b"data: [DONE]\n\n"

#: The OpenAPI description of the stream (``ai.api.views`` puts it in the schema).
SSE_DESCRIPTION = (
    "With `stream: true` the answer is `text/event-stream`. Each frame is one `data:` line "
    "holding JSON, followed by a blank line:\n\n"
    '* `{"type":"delta","content":"..."}`: one per piece of generated text, in order;\n'
    '* `{"type":"done","id","model","provider","finish_reason","usage","latency_ms",'
    '"ttft_ms","cost"}` (plus `complexity` on the routed endpoint): the stream completed;\n'
    "* then the literal `data: [DONE]`.\n\n"
    "If the upstream fails after the stream has started, the last frame is "
    '`event: error` with `data: {"type":"error","error":{"code","message"},"id"}` and no '
    "`[DONE]` follows: a stream without `[DONE]` is incomplete. Failures before the first "
    "byte (authentication, validation, an upstream that cannot be reached) are ordinary JSON "
    "errors with their real HTTP status."
)


def data_frame(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def delta_frame(content: str) -> bytes:
    return b'data: {"type":"delta","content":' + orjson.dumps(content) + b"}\n\n"


def event_frame(name: str, payload: Any) -> bytes:
    """A named event (``event: <name>``), as the Anthropic and Responses streams send them."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_frame(code: str, message: str, request_id: str) -> bytes:
    payload = {"type": "error", "error": {"code": code, "message": message}, "id": request_id}
    return event_frame("error", payload)


class SSEResponse(StreamingHttpResponse):
    """A ``text/event-stream`` response over an async iterator of ready-made frames (bytes).

    * Django's ASGI handler closes the iterator it consumes when the client disconnects, but it
      consumes ``__aiter__``'s wrapper, not the frames' generator itself. ``__aiter__`` here
      closes the frames' generator explicitly, so its ``finally`` (closing the upstream,
      recording usage) runs at once rather than whenever the garbage collector gets to it.
    * A middleware may replace ``streaming_content`` (GZipMiddleware wraps it): then that is
      what is sent, and the frames' generator is still closed at the end.
    * ``AI_SSE_KEEPALIVE_SECONDS`` > 0: a ``: keep-alive`` comment after that long without a
      frame (``ai.api.keepalive``), so proxies do not cut a quiet stream.
    * A handler that can hand over its ``write`` (the gateway's lean ASGI handler) calls
      :meth:`write_to` instead of iterating: each frame goes from the relay to ``write`` with no
      generator or task between them, and the keep-alive comes from a timer.
    * Django's ``GZipMiddleware`` compresses each part of an async stream as a gzip file of its
      own, and httpx-based clients (the official OpenAI and Anthropic Python SDKs) decode only
      the first: they would see one frame. When it is that middleware's wrapper that wraps the
      frames, they are sent as one gzip stream instead, each frame flushed as it comes
      (:func:`gzipped`).
    * Under WSGI, ``__iter__`` relays the frames from the loop the view ran on
      (``ai.api.wsgi``); Django's own would read them to the end first, in a new loop.
    """

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        headers: dict[str, str] | None = None,
        *,
        request: HttpRequest | None = None,
    ) -> None:
        super().__init__(frames, content_type=CONTENT_TYPE, headers=headers)
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"
        self._frames = frames
        self._wrapped = False
        #: What a middleware last set as the content (its wrapper), when one did.
        self._wrapper: Any = None
        #: What :meth:`write_to` releases once the start is sent (see there).
        self._request = request

    #: The lean handler (``ai._compat.django.send_response``) calls :meth:`write_to` instead
    #: of iterating the response.
    ai_writes_body = True

    @property
    def streaming_content(self) -> Any:
        return StreamingHttpResponse.streaming_content.fget(self)  # type: ignore[attr-defined]

    @streaming_content.setter
    def streaming_content(self, value: Any) -> None:
        self._wrapped, self._wrapper = True, value
        StreamingHttpResponse.streaming_content.fset(self, value)  # type: ignore[attr-defined]

    def gzipped_by_django(self) -> bool:
        """Whether the content is Django's ``GZipMiddleware`` wrapper (one gzip file per part),
        the last wrapper set."""
        code = getattr(self._wrapper, "ag_code", None)
        return (
            code is not None
            and code.co_name == "gzip_wrapper"
            and code.co_filename.replace("\\", "/").endswith("django/middleware/gzip.py")
            and self.get("Content-Encoding") == "gzip"
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        async with aclosing(self._frames) as frames:  # type: ignore[type-var]
            if self._wrapped:
                # A middleware's wrapper sends no keep-alive: a comment would corrupt it.
                frames = gzipped(frames) if self.gzipped_by_django() else super().__aiter__()
            elif interval := _keepalive_seconds():
                frames = keepalive.with_keepalive(frames, interval)
            async with aclosing(frames) as relayed:
                async for frame in relayed:
                    yield frame

    def write_to(self, write: Callable[[bytes], Awaitable[None]]) -> Awaitable[None]:
        """What writes the body with ``await write(part)``, part by part as it comes: the same
        parts as iterating it gives, with the frames' generator closed at the end. Await it at
        once (the frames' relay itself, no coroutine of this method's around it for the
        stream's whole life).

        Called once the start (status and headers) is sent, so every middleware's
        ``process_response`` is done with the response and its request: unless a middleware
        wrapped the content (its wrapper runs during the stream and may read them), a held
        stream then keeps neither the response's headers nor what the request holds
        (``ai._compat.django.release_request``: ~5 KB per open stream, plus the body, a chat
        history, in real use)."""
        if self._wrapped:
            return self._write_wrapped(write)
        self.headers = ResponseHeaders({})
        self.cookies = _SENT_COOKIES
        request, self._request = self._request, None
        if request is not None:
            compat.release_request(request)
        return keepalive.relay(self._frames, write, _keepalive_seconds())

    async def _write_wrapped(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        async with aclosing(self.__aiter__()) as parts:
            async for part in parts:
                await write(part)

    def __iter__(self) -> Iterator[bytes]:
        from ai.api import wsgi

        return wsgi.iterate(self.__aiter__())


#: What a held stream's response keeps as its cookies once they are sent (one for all).
_SENT_COOKIES = SimpleCookie()


def _keepalive_seconds() -> float:
    return float(ai_settings.AI_SSE_KEEPALIVE_SECONDS or 0)


#: As Django's GZipMiddleware (BREACH): up to this many random bytes in the gzip header.
_MAX_RANDOM_BYTES = 100


async def gzipped(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``frames`` as one gzip stream, each frame flushed (``Z_SYNC_FLUSH``) so that a client
    decodes it as it comes. The header carries a file name of random length, as Django's
    ``GZipMiddleware`` writes it (its BREACH mitigation)."""
    buffer = io.BytesIO()
    name = "a" * secrets.randbelow(_MAX_RANDOM_BYTES)
    with gzip.GzipFile(filename=name, mode="wb", compresslevel=6, fileobj=buffer, mtime=0) as z:
        async for frame in frames:
            z.write(frame)
            z.flush()
            yield _take(buffer)
    if tail := _take(buffer):
        yield tail


def _take(buffer: io.BytesIO) -> bytes:
    data = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return data
