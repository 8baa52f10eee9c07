"""The gateway's views under a WSGI server (``manage.py runserver``, gunicorn's sync workers).

Django runs an async view under WSGI with ``async_to_sync``: a new event loop per request,
closed when the view returns. A stream's upstream generator, started in that loop to read the
first delta, is then closed with it (``loop.shutdown_asyncgens()``), and Django's
``StreamingHttpResponse`` consumes the rest of the async body in yet another loop: the client got
the first delta, then a normal-looking end. Non-streaming requests paid a new SDK client (and
connection) per request for the same reason.

Here every WSGI request's view runs on one event loop per process, in a background thread,
and :class:`ai.api.sse.SSEResponse` relays its frames from that same loop to the WSGI thread.
Streams are complete and clients reused; each request still holds a WSGI worker thread for as
long as it lasts, so production belongs on an ASGI server (``ai.W020`` says so).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger("ai.api")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process's loop for WSGI requests, started (in a daemon thread) on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="ai-wsgi-loop", daemon=True).start()
            _loop = loop
            logger.warning(
                "ai: the gateway is being served by a WSGI server. It works (its views run on "
                "one background event loop), but every request, streams included, holds a "
                "worker thread until it ends. Serve it with an ASGI server, e.g. "
                "`uvicorn myproject.asgi:application` (see the README's install section)."
            )
        return _loop


def on_background_loop() -> bool:
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False


async def run(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the background loop (from the request's own short-lived loop)."""
    future = asyncio.run_coroutine_threadsafe(coro, background_loop())
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.cancel()
        raise


def iterate(body: AsyncIterator[bytes]) -> Iterator[bytes]:
    """A sync iterator over ``body``, each step run on the background loop. Closing it (the
    WSGI server does when the client goes away or the body ends) closes ``body`` there."""
    loop = background_loop()
    try:
        while True:
            step = asyncio.run_coroutine_threadsafe(body.__anext__(), loop)
            try:
                chunk = step.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            try:
                asyncio.run_coroutine_threadsafe(aclose(), loop).result(timeout=10)
            except (concurrent.futures.TimeoutError, RuntimeError):
                logger.warning("ai: closing a WSGI stream's body timed out")
