"""What-ifs for ``python -m bench.held_profile --experiment NAME`` / ``--ab NAME``: each patches,
inside the profiling process only, one cost the profile points at, so its effect on a held
stream's CPU and memory can be measured before anyone changes the code. Each returns its undo,
so ``--ab`` can alternate with and without it in one warm process. No file changes; nothing
here is meant for production as written (each docstring says what the real change would be).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

Undo = Callable[[], None]
#: name -> apply(), which patches and returns the undo.
EXPERIMENTS: dict[str, Callable[[], Undo]] = {}


def experiment(name: str):
    def register(fn: Callable[[], Undo]) -> Callable[[], Undo]:
        EXPERIMENTS[name] = fn
        return fn

    return register


def _setattr(obj: Any, name: str, value: Any) -> Undo:
    old = getattr(obj, name)
    setattr(obj, name, value)
    return lambda: setattr(obj, name, old)


@experiment("gc-freeze")
def gc_freeze() -> Undo:
    """``AI_GC_FREEZE``'s startup step, after the warm-up: the objects alive now (Django, DRF,
    three SDKs, the warmed clients) go to the permanent generation, so full collections stop
    walking them. Real change: ``AI_GC_FREEZE = True`` in the example project's settings."""
    gc.collect()
    gc.freeze()
    return gc.unfreeze


@experiment("no-sock-read")
def no_sock_read() -> Undo:
    """The openai SDK's aiohttp transport maps the read timeout to aiohttp's ``sock_read``,
    which cancels and re-creates a timer on every ``data_received`` (every delta). Drop it (the
    total timeout stays). Real change: a per-stream idle watchdog in the provider (one timer
    re-armed lazily from a last-activity time) instead of the per-read one."""
    from openai._vendor.httpx_aiohttp import transport

    real = transport.ClientTimeout

    def timeout(*, sock_connect=None, sock_read=None, connect=None, **kw: Any):
        return real(sock_connect=sock_connect, connect=connect, **kw)

    return _setattr(transport, "ClientTimeout", timeout)


@experiment("direct-body")
def direct_body() -> Undo:
    """Read the upstream body straight from aiohttp's StreamReader (``iter_any``) instead of
    httpx2's ``aiter_bytes`` -> ``aiter_raw`` -> the transport's ``__aiter__`` ->
    ``iter_chunked``: three async-generator layers and a ByteChunker fewer per delta. Real
    change: in the provider, behind a guard (ai/_compat/openai.py), when the response's stream
    is the SDK's ``AiohttpResponseStream``."""
    import httpx2
    from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream

    real = httpx2.Response.aiter_bytes

    class Direct:
        """aiohttp's ``iter_any`` with the ``aclose()`` the provider calls (a no-op: the
        provider closes the response itself)."""

        __slots__ = ("_it",)

        def __init__(self, content: Any) -> None:
            self._it = content.iter_any()

        def __aiter__(self) -> Direct:
            return self

        def __anext__(self) -> Any:
            return self._it.__anext__()

        async def aclose(self) -> None:
            return None

    def aiter_bytes(self, chunk_size=None):
        stream = self.stream
        if chunk_size is None and isinstance(stream, AiohttpResponseStream):
            return Direct(stream._aiohttp_response.content)
        return real(self, chunk_size)

    return _setattr(httpx2.Response, "aiter_bytes", aiter_bytes)


@experiment("lean-sse-send")
def lean_sse_send() -> Undo:
    """Django's ``send_response`` runs each streamed frame through ``chunk_bytes`` (a generator
    per frame) and its own ``aclosing(aiter(response))``. Send each frame as one message.
    Real change: in ai/_compat/django.py's ``handle`` copy (the lean handler), a streaming
    response of the app's (SSEResponse) sent by a loop of its own."""
    from django.core.handlers.asgi import ASGIHandler

    from ai.asgi import LeanASGIHandler

    real = ASGIHandler.send_response

    async def send_response(self, response, send):
        if not response.streaming:
            return await real(self, response, send)
        headers = [
            (k.encode("ascii") if isinstance(k, str) else k, v.encode("latin1"))
            for k, v in response.items()
        ]
        headers += [
            (b"Set-Cookie", c.output(header="").encode("ascii").strip())
            for c in response.cookies.values()
        ]
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        content = aiter(response)
        try:
            async for part in content:
                await send({"type": "http.response.body", "body": part, "more_body": True})
        finally:
            await content.aclose()
        await send({"type": "http.response.body"})

    LeanASGIHandler.send_response = send_response  # type: ignore[method-assign]

    def undo() -> None:
        del LeanASGIHandler.send_response

    return undo


@experiment("compact-body")
def compact_body() -> Undo:
    """orjson.dumps returns its bytes in a 4 KB allocation whatever the length; the request
    body stays referenced (SDK request, aiohttp payload) for the whole stream. Copy it to its
    size. Real change: ``bytes(memoryview(orjson.dumps(...)))`` where the provider builds the
    body (ai/providers/openai.py ``_post``, and the other vendors)."""
    import orjson

    from ai.providers import openai as provider

    class _Orjson:
        JSONDecodeError = orjson.JSONDecodeError
        loads = staticmethod(orjson.loads)

        @staticmethod
        def dumps(*args: Any, **kwargs: Any) -> bytes:
            return bytes(memoryview(orjson.dumps(*args, **kwargs)))

    return _setattr(provider, "orjson", _Orjson)


@experiment("gc-threshold")
def gc_threshold() -> Undo:
    """The collector's thresholds raised: generation 0 collected every 10,000 net allocations
    instead of 700, a full collection considered after 50 of generation 1 instead of 10. Held
    streams keep ~160 tracked objects each alive for their whole life, so they reach the oldest
    generation, and every full collection walks all of them. Real change: an opt-in setting."""
    old = gc.get_threshold()
    gc.set_threshold(10_000, 10, 50)
    return lambda: gc.set_threshold(*old)


@experiment("forget-request")
def forget_request() -> Undo:
    """What a held stream's Django request and response headers cost: once a streamed
    response's start is sent, empty the request's attributes (META, headers, body file, user,
    DRF's wrapper...) and the response's headers. Not safe as written (a host's code may read
    the request later); measures the most such a release could save."""
    from django.http import HttpRequest
    from django.http.response import ResponseHeaders

    from ai._compat import django as compat

    real = compat._start_message

    def start_message(response: Any) -> dict:
        message = real(response)
        if response.streaming:
            for closer in response._resource_closers:
                request = getattr(closer, "__self__", None)
                if isinstance(request, HttpRequest):
                    request.__dict__.clear()
            response.headers = ResponseHeaders({})
        return message

    return _setattr(compat, "_start_message", start_message)


@experiment("iterated-sse")
def iterated_sse() -> Undo:
    """The way before SSE responses wrote their own frames: the lean handler iterates the
    response, and the keep-alive runs a relay task per stream with a future per frame
    (``ai.api.keepalive.with_keepalive``). For A/B against ``SSEResponse.write_to``."""
    from ai.api.sse import SSEResponse

    return _setattr(SSEResponse, "ai_writes_body", False)


class _SmallDeque(list):
    """A list with a deque's ends: an empty deque is 760 bytes (its first block), a list 56."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)

    def appendleft(self, item: Any) -> None:
        self.insert(0, item)


@experiment("small-deques")
def small_deques() -> Undo:
    """What the per-connection deques of uvicorn (a request's and the flow control's
    ``asyncio.Event`` waiters, the pipeline) and aiohttp (the body reader's buffer and chunk
    splits, the protocol's queue) cost a held stream: each swapped for a list with a deque's
    ends. Real change: a guarded swap when a stream starts, or upstream patches."""
    from uvicorn.protocols.http import httptools_impl

    from ai._compat import aiohttp_body

    undos: list[Undo] = []
    cycle_init = httptools_impl.RequestResponseCycle.__init__

    def init_cycle(self: Any, *args: Any, **kw: Any) -> None:
        cycle_init(self, *args, **kw)
        self.message_event._waiters = []
        self.flow._is_writable_event._waiters = []

    protocol_init = httptools_impl.HttpToolsProtocol.__init__

    def init_protocol(self: Any, *args: Any, **kw: Any) -> None:
        protocol_init(self, *args, **kw)
        self.pipeline = _SmallDeque()

    real_reader = aiohttp_body.reader

    def reader(response: Any) -> Any:
        read = real_reader(response)
        content = getattr(read, "func", None)
        content = getattr(content, "__self__", None)
        if content is not None:
            content._buffer = _SmallDeque(content._buffer)
            if content._http_chunk_splits is not None:
                content._http_chunk_splits = _SmallDeque(content._http_chunk_splits)
            content._protocol._buffer = _SmallDeque(content._protocol._buffer)
        return read

    undos.append(_setattr(httptools_impl.RequestResponseCycle, "__init__", init_cycle))
    undos.append(_setattr(httptools_impl.HttpToolsProtocol, "__init__", init_protocol))
    undos.append(_setattr(aiohttp_body, "reader", reader))

    def undo() -> None:
        for u in reversed(undos):
            u()

    return undo


def apply(names: list[str]) -> Undo:
    """Apply the named experiments; return one undo for all of them."""
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise SystemExit(f"unknown experiment(s) {unknown}; known: {sorted(EXPERIMENTS)}")
    undos = [EXPERIMENTS[name]() for name in names]

    def undo() -> None:
        for u in reversed(undos):
            u()

    return undo
