"""A minimal HTTP/1.1 keep-alive client: an asyncio Protocol with httptools (llhttp, C) parsing.

The load generator shares a CPU with the fake upstream, so every microsecond it spends per SSE
frame lowers the streaming rate the rig can measure. aiohttp's client costs about 3x this one per
frame. One :class:`Connection` serves one request at a time (a closed-loop worker owns one);
it reconnects when the server closes the connection between requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import httptools

TIMEOUT_S = 120.0


def build_request(url: str, body: bytes, headers: dict[str, str]) -> tuple[str, int, bytes]:
    """(host, port, the request's bytes) for a POST of ``body`` to ``url``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self._done: asyncio.Future[int] | None = None
        self._on_body: Callable[[bytes], None] | None = None
        self._status = 0

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(cls, host, port)
        return conn

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionResetError("server closed the connection mid-response"))

    # -- httptools callbacks ------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self._on_body is not None and self._status == 200:
            self._on_body(body)

    def on_message_complete(self) -> None:
        keep_alive = self.parser.should_keep_alive()
        if self._done is not None and not self._done.done():
            self._done.set_result(self._status)
        if not keep_alive:
            self.close()

    # -- use ------------------------------------------------------------------------------------

    async def send(self, request: bytes, on_body: Callable[[bytes], None] | None = None) -> int:
        """Send a request and wait for the whole response; return its status. The body of a
        200 response goes to ``on_body`` piece by piece (de-chunked); other bodies are dropped."""
        if self.closed or self.transport is None:
            raise ConnectionResetError("connection is closed")
        self._done = asyncio.get_running_loop().create_future()
        self._on_body = on_body
        self._status = 0
        self.transport.write(request)
        try:
            return await asyncio.wait_for(self._done, TIMEOUT_S)
        finally:
            self._done = None
            self._on_body = None

    def _fail(self, exc: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
