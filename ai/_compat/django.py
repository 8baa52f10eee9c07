"""Django internals the gateway's lean ASGI handler (:mod:`ai.asgi`) uses, checked at import.

What is private here, and why:

* ``Signal._live_receivers(sender)``: the receivers of ``request_started`` / ``request_finished``
  split into sync and async, so that Django's own two sync receivers (which tidy the current
  thread's database connections; the event loop's thread has none) can be skipped and the
  signal sent without a thread hop when nothing else listens.
* ``ASGIHandler.handle``: :func:`handle` below is a copy of Django 5.2's, with the two signal
  sends and the response's ``close()`` made by the caller (so they can skip that thread hop too).
* ``HttpResponseBase._resource_closers`` / ``_handler_class``: what ``response.close()`` does,
  done on the loop (:func:`close_response`).
* ``ASGIRequest``'s ``_stream``, ``_read_started``, ``_body``, ``_post``, ``_files`` and its cached
  ``GET`` / ``COOKIES`` / ``headers``: what :func:`release_request` empties once a held stream's
  response has started (checked on a probe request; when it fails nothing is released).
* ``ASGIHandler.send_response``: :func:`send_response` below is a copy of Django 5.2's that keeps
  nothing of the response's start (its header list) alive while a stream is relayed, and sends
  a part no larger than ``chunk_size`` as it is (no ``chunk_bytes`` generator per SSE frame).

Each has a check (the attribute exists; the copied source hashes to the release it was copied
from). When one fails, a warning is logged once and the public path takes over: ``Signal.asend``,
Django's own ``ASGIHandler.handle``, ``sync_to_async(response.close)``. Correct, a thread hop
slower. ``tests/compat/test_django.py`` fails when any check does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

from ai._compat import small_deques

logger = logging.getLogger("ai.compat")

#: sha256 of ``inspect.getsource`` of what was copied, in the release it was copied from
#: (Django 5.2.x). A new release that changes either makes the copy stale: fall back.
HANDLE_SHA256 = "98faeb5bef800331e6a8002fbc96b30e4122a23438ae45a047190a531ea11323"
CLOSE_SHA256 = "84589f5b23acbb23aa9010f3506ef411b72b1053f2fc2764590e2b3bf3470438"
SEND_RESPONSE_SHA256 = "77eda2b08689b44ee277c936092bde02e50f84727f7398480a127e7e9e1dad06"


def _source_sha256(func: Callable) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()
    except (OSError, TypeError):  # no source (a frozen or compiled install)
        return None


def _check_live_receivers() -> bool:
    probe = Signal()
    probe.connect(_probe_receiver, weak=False)
    try:
        sync_receivers, async_receivers = probe._live_receivers(None)
    except Exception:
        return False
    return list(sync_receivers) == [_probe_receiver] and list(async_receivers) == []


def _probe_receiver(**kwargs: Any) -> None:
    return None


def _check_close() -> bool:
    response = HttpResponse()
    return (
        _source_sha256(HttpResponseBase.close) == CLOSE_SHA256
        and isinstance(getattr(response, "_resource_closers", None), list)
        and hasattr(response, "_handler_class")
    )


def _check_release() -> bool:
    from django.core.handlers.asgi import ASGIRequest

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"a=1"}
    try:
        probe = ASGIRequest(scope, io.BytesIO(b"{}"))
        read = probe.body == b"{}" and probe.GET["a"] == "1"
        probe.COOKIES, probe.headers  # noqa: B018  (both cached in __dict__)
        attrs = vars(probe)
        return read and all(
            name in attrs
            for name in ("_stream", "_read_started", "_body", "GET", "COOKIES", "headers", "META")
        )
    except Exception:
        return False


#: Whether each internal is usable as written (checked once, at import).
LIVE_RECEIVERS_OK = _check_live_receivers()
HANDLE_OK = _source_sha256(ASGIHandler.handle) == HANDLE_SHA256
CLOSE_OK = _check_close()
SEND_RESPONSE_OK = _source_sha256(ASGIHandler.send_response) == SEND_RESPONSE_SHA256
RELEASE_OK = _check_release()

for _name, _ok, _fallback in (
    ("Signal._live_receivers", LIVE_RECEIVERS_OK, "Signal.asend"),
    ("ASGIHandler.handle", HANDLE_OK, "Django's own ASGIHandler.handle"),
    ("HttpResponseBase.close", CLOSE_OK, "sync_to_async(response.close)"),
    ("ASGIHandler.send_response", SEND_RESPONSE_OK, "Django's own ASGIHandler.send_response"),
    ("ASGIRequest's attributes", RELEASE_OK, "keeping a held stream's request whole"),
):
    if not _ok:
        logger.warning(
            "ai: this Django release changed %s; the gateway's lean handler uses %s instead "
            "(correct, slower or larger). Update ai/_compat/django.py.",
            _name,
            _fallback,
        )


def live_receivers(signal: Signal, sender: Any) -> tuple[list, list] | None:
    """``(sync_receivers, async_receivers)`` of ``signal`` for ``sender``, or None when this
    Django has no usable ``_live_receivers`` (then send with ``signal.asend``)."""
    if not LIVE_RECEIVERS_OK:
        return None
    sync_receivers, async_receivers = signal._live_receivers(sender)
    return list(sync_receivers), list(async_receivers)


async def close_response(
    response: HttpResponseBase, finished: Callable[[Any], Awaitable[None]]
) -> None:
    """``response.close()`` on the loop: its resource closers run inline (they close files and
    iterators), then ``await finished(handler_class)`` sends ``request_finished``. A response
    class with its own ``close()``, or a Django whose ``close()`` changed, is closed as Django
    does: ``sync_to_async(response.close)``."""
    if not CLOSE_OK or type(response).close is not HttpResponseBase.close:
        await sync_to_async(response.close)()
        return
    for closer in response._resource_closers:
        with contextlib.suppress(Exception):
            closer()
    response._resource_closers.clear()
    response.closed = True
    await finished(response._handler_class)


async def handle(
    handler: ASGIHandler,
    scope: dict,
    receive: Callable,
    send: Callable,
    *,
    send_signal: Callable[..., Awaitable[None]],
    close: Callable[[HttpResponseBase], Awaitable[None]],
) -> None:
    """Django 5.2's ``ASGIHandler.handle`` with ``signals.*.asend`` replaced by
    ``send_signal(signal, sender, **named)``, ``sync_to_async(response.close)()`` by
    ``close(response)``, and the response produced in this task (the disconnect listener
    cancels it) rather than in one more. Only called when :data:`HANDLE_OK`."""
    from django.core import signals

    try:
        body_file = await handler.read_body(receive)
    except RequestAborted:
        return
    set_script_prefix(get_script_prefix(scope))
    await send_signal(signals.request_started, handler.__class__, scope=scope)
    request, error_response = handler.create_request(scope, body_file)
    if request is None:
        body_file.close()
        await handler.send_response(error_response, send)
        await close(error_response)
        return
    # The request holds its body file (and a held stream's lets go of it: release_request);
    # it is closed through the request at the end, as Django closes it.
    del body_file

    # Django runs the response in a task of its own beside a disconnect listener and waits for
    # the first to finish. Here the response runs in this task, and the listener cancels it if
    # the client goes away: one task less per request (and per held stream), same outcomes.
    this = asyncio.current_task()
    assert this is not None
    aborted = sent = False

    def client_left(listener: asyncio.Task) -> None:
        # Called from the loop between this task's steps: it is suspended (or about to resume)
        # inside the try below, unless the response has been sent.
        nonlocal aborted
        if not listener.cancelled() and not sent:
            aborted = True
            this.cancel()

    listener = asyncio.create_task(handler.listen_for_disconnect(receive))
    listener.add_done_callback(client_left)
    response = None
    try:
        try:
            response = await handler.run_get_response(request)
            if SEND_RESPONSE_OK:
                await send_response(handler, response, send)
            else:
                await handler.send_response(response, send)
        finally:
            sent = True
            listener.remove_done_callback(client_left)
    except asyncio.CancelledError:
        # Ours (the client went away) is taken back; one from outside (a server shutting
        # down), alone or besides ours, goes on.
        if not aborted or this.uncancel() > 0:
            raise
    finally:
        if not listener.done():
            listener.cancel()
            await asyncio.wait([listener])
    # As Django does with the listener's outcome: an invalid ASGI message (AssertionError) or
    # any other error is raised; a disconnect (RequestAborted) is the normal end.
    if listener.done() and not listener.cancelled():
        exc = listener.exception()
        if isinstance(exc, AssertionError):
            _close_body(request)
            raise exc
        if exc is not None and not isinstance(exc, RequestAborted):
            raise exc
    if response is None:  # cancelled before there was a response
        await send_signal(signals.request_finished, handler.__class__)
    else:
        await close(response)
    _close_body(request)


def _close_body(request: HttpRequest) -> None:
    body_file = getattr(request, "_stream", None)
    if body_file is not None and hasattr(body_file, "close"):
        body_file.close()


def _start_message(response: HttpResponseBase) -> dict[str, Any]:
    # Built apart so that no frame keeps the header list while the body is relayed.
    response_headers = []
    for header, value in response.items():
        if isinstance(header, str):
            header = header.encode("ascii")
        if isinstance(value, str):
            value = value.encode("latin1")
        response_headers.append((bytes(header), bytes(value)))
    for c in response.cookies.values():
        response_headers.append((b"Set-Cookie", c.output(header="").encode("ascii").strip()))
    return {
        "type": "http.response.start",
        "status": response.status_code,
        "headers": response_headers,
    }


async def send_response(handler: ASGIHandler, response: HttpResponseBase, send: Callable) -> None:
    """Django 5.2's ``ASGIHandler.send_response``, the same messages in the same order, but
    the start message is not kept alive for a stream's whole life, a streamed part of at most
    ``chunk_size`` bytes is sent as it is, and a response marked ``ai_writes_body`` (the
    gateway's SSE responses) writes its parts itself with ``write_to(write)`` rather than being
    iterated. Only called when :data:`SEND_RESPONSE_OK`."""
    await send(_start_message(response))
    if response.streaming:
        write = _BodyWriter(handler, send)
        if getattr(response, "ai_writes_body", False):  # ai.api.sse: it writes its frames
            small_deques.compact_server(send)  # a held stream, with AI_SMALL_DEQUES
            await response.write_to(write)  # type: ignore[attr-defined]
        else:
            async with contextlib.aclosing(aiter(response)) as content:
                async for part in content:
                    await write(part)
        await send({"type": "http.response.body"})
    else:
        for chunk, last in handler.chunk_bytes(response.content):
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})


class _BodyWriter:
    """``await write(part)``: a streamed part as one body message, or as ``chunk_size`` pieces
    when larger. One small object per stream rather than two closures and their cells."""

    __slots__ = ("handler", "send")

    def __init__(self, handler: ASGIHandler, send: Callable) -> None:
        self.handler = handler
        self.send = send

    def __call__(self, part: bytes) -> Awaitable[None]:
        # The server's own awaitable for a part that fits (no coroutine of ours per frame).
        if 0 < len(part) <= self.handler.chunk_size:
            return self.send({"type": "http.response.body", "body": part, "more_body": True})
        return self._pieces(part)

    async def _pieces(self, part: bytes) -> None:
        for chunk, _ in self.handler.chunk_bytes(part):
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})


#: What :func:`release_request` keeps of ``META``: what ``get_host()``, ``build_absolute_uri()``
#: and error reporters read.
KEPT_META = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "SCRIPT_NAME",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "REMOTE_ADDR",
    "HTTP_HOST",
)


def release_request(request: HttpRequest) -> None:
    """Let go of what a request holds once its streamed response has started (every
    middleware's ``process_response`` has run): ``META`` keeps only :data:`KEPT_META`, the ASGI
    ``scope`` and ``COOKIES`` become empty, ``GET`` an empty QueryDict; its cached headers,
    body and parsed form, its ``user`` and ``auth`` are dropped and its body file closed (as
    ``request.close()`` would at the end); reading ``request.body`` again raises Django's
    ``RawPostDataException``. Uploaded files are left for ``request.close()`` to close. Nothing
    when :data:`RELEASE_OK` is False."""
    if not RELEASE_OK:
        return
    attrs = request.__dict__
    if attrs.get("_stream") is not None:
        _close_body(request)
        attrs["_stream"] = _closed_body()  # the file object itself too (~420 bytes)
    attrs["_read_started"] = True
    meta = attrs.get("META")
    if meta is not None:
        attrs["META"] = {k: meta[k] for k in KEPT_META if k in meta}
    if "scope" in attrs:
        attrs["scope"] = {}
    attrs["COOKIES"] = {}
    attrs["GET"] = _empty_query()
    # And who asked (DRF sets the user and its token on the Django request: a User instance
    # and a decoded token per held stream); the ledger has the user's id from before.
    for name in ("headers", "_body", "_post", "user", "auth", "_cached_user"):
        attrs.pop(name, None)
    if not attrs.get("_files"):  # uploaded files stay for request.close()
        attrs.pop("_files", None)


@functools.cache
def _closed_body() -> io.BytesIO:
    # One for every released request: closed, so reading it raises as a closed file does.
    body = io.BytesIO()
    body.close()
    return body


@functools.cache
def _empty_query() -> QueryDict:
    # One for every released request: an empty QueryDict is immutable (336 bytes each).
    return QueryDict()
