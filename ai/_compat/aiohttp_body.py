"""A streamed body read straight from aiohttp under the SDKs' httpx2 adapter: :func:`reader`.

With ``AI_HTTP_TRANSPORT = "aiohttp"`` the openai and anthropic SDKs send through the
``httpx_aiohttp`` adapter each vendors: the answer is an ``httpx2.Response`` whose ``stream`` is
the adapter's ``AiohttpResponseStream``, holding aiohttp's response. Read through httpx2, each
chunk of a stream climbs four async generators (``aiter_bytes``, ``aiter_raw``, the adapter's
``__aiter__``, aiohttp's ``iter_chunked``) and a decoder; a held stream pays that on every delta.
:func:`reader` returns aiohttp's own ``StreamReader.read`` (public aiohttp API), reached
through the adapter's private ``_aiohttp_response``, for a body with no ``Content-Encoding``
(the adapter turns aiohttp's decompression off and leaves decoding to httpx2). Anything else, or
an adapter whose ``__init__`` no longer sets that attribute (checked at import; a warning is
logged once), reads through httpx2's ``aiter_bytes``. Closing stays ``response.aclose()``.
aiohttp's own errors then surface instead of the adapter's httpx2 ones; the providers classify
both (``ai.providers._http.transport_error``). ``tests/compat/test_aiohttp_body.py`` fails when
a check does.

On that path, aiohttp's reader calls its protocol's ``resume_reading()`` after every read that
leaves its buffer under the low-water mark, paused or not: each delta of a held stream fed the
HTTP parser an empty chunk and asked the transport to resume reading (~2 % of a paced stream's
instructions, ``bench.instructions``). :class:`ResumeWhenPaused` stands in for the protocol in
that reader and passes the call on only when reading is paused, as aiohttp's own ``DataQueue``
does. :data:`RESUME_PROBLEM` checks, by their source, that a call with nothing paused does
nothing else and that the reader uses no other part of its protocol; when it fails, the reader
keeps its protocol.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from ai._compat import small_deques
from ai._compat._checks import (
    assigned_in_init,
    class_source,
    first_problem,
    has,
    method_statements,
    report,
    run,
)

#: The most one read returns (the adapter's own iter_chunked reads 16 KiB at a time).
READ_SIZE = 65_536

#: The vendored adapters whose stream class is read through (one per SDK that vendors one).
#: Checked when a response first comes from one, not at import: importing an SDK here would
#: load it into a worker that does not use it (anthropic alone is 40 MB).
ADAPTERS = (
    "openai._vendor.httpx_aiohttp.transport",
    "anthropic._vendor.httpx_aiohttp.transport",
)

#: Stream class -> whether it is a known adapter that passed its check.
_adapters: dict[type, bool] = {}
#: What a held stream's aiohttp response keeps of the request's headers.
_NO_HEADERS: Any = None
#: What a held stream's httpx2 request keeps of its body.
_NO_BODY = httpx2.ByteStream(b"")


def check() -> str | None:
    """``None`` when aiohttp's reader has ``read``, its response keeps the request's
    description in ``_request_info`` and its own headers in ``_headers`` / ``_raw_headers``, and
    httpx2's request its body in ``stream`` / ``_content``, as :func:`reader` expects (the
    adapters: see :func:`adapter_problem`)."""
    global _NO_HEADERS
    import aiohttp
    from multidict import CIMultiDict, CIMultiDictProxy

    problem = first_problem(
        has(aiohttp.StreamReader, "read"),
        has(aiohttp.ClientResponse, "content"),
        assigned_in_init(aiohttp.ClientResponse, "_request_info"),
        has(aiohttp.RequestInfo, "_replace", "headers"),
        has(aiohttp.ClientResponse, "_headers", "_raw_headers", "headers", "raw_headers"),
        assigned_in_init(aiohttp.ClientResponse, "_cache"),
        _request_body_problem(),
    )
    if problem is None:
        _NO_HEADERS = CIMultiDictProxy(CIMultiDict())
    return problem


def _request_body_problem() -> str | None:
    """``None`` when an httpx2 request keeps its body where :func:`reader` drops it: the
    ``stream`` it sends and the ``_content`` it read."""
    probe = httpx2.Request("POST", "http://probe.invalid/", content=b"probe")
    if vars(probe).get("_content") != b"probe" or not isinstance(probe.stream, httpx2.ByteStream):
        return "httpx2.Request no longer keeps its body in stream and _content"
    return None


def adapter_problem(cls: type) -> str | None:
    """``None`` when ``cls`` is a vendored adapter's stream that keeps aiohttp's response
    where :func:`reader` looks; else what is wrong."""
    if cls.__module__ not in ADAPTERS or cls.__name__ != "AiohttpResponseStream":
        return f"{cls.__module__}.{cls.__qualname__} is not a known adapter stream"
    return assigned_in_init(cls, "_aiohttp_response")


def _direct(cls: type) -> bool:
    ok = _adapters.get(cls)
    if ok is None:
        problem = run(lambda: adapter_problem(cls))
        if cls.__module__ in ADAPTERS:  # a known adapter that changed: say so, once
            ok = report("httpx_aiohttp", problem, "httpx2's Response.aiter_bytes")
        else:
            ok = False  # httpx2's own stream, or another transport's: the public path
        _adapters[cls] = ok
    return ok


PROBLEM = run(check)
DIRECT_OK: bool = report("aiohttp", PROBLEM, "httpx2's Response.aiter_bytes")

#: What ``resume_reading`` is, statement for statement (comments and blank lines aside), in the
#: aiohttp this was written against: with neither flag set, it feeds the parser ``b""`` (what
#: it held back at a pause: nothing, unpaused) and resumes the transport (not paused).
EXPECTED_RESUME = {
    "BaseProtocol": (
        "def resume_reading(self, resume_parser: bool = True) -> None:",
        "self._reading_paused = False",
        "if not self._upgraded and resume_parser:",
        'self.data_received(b"")',
        "if not self._reading_paused and not self._buffer_paused:",
        "self._resume_transport_reading()",
    ),
    "ResponseHandler": (
        "def resume_reading(self, resume_parser: bool = True) -> None:",
        "was_paused = self._reading_paused",
        "super().resume_reading(resume_parser)",
        "if was_paused and not self._buffer_paused:",
        "self._reschedule_timeout()",
    ),
}
#: All the reader does with its protocol.
READER_USES = frozenset({"resume_reading", "pause_reading", "connected"})


def resume_problem() -> str | None:
    """``None`` when :class:`ResumeWhenPaused` may stand in for a body reader's protocol."""
    from aiohttp import base_protocol, client_proto, streams

    problems = [
        None
        if method_statements(cls, "resume_reading") == EXPECTED_RESUME[cls.__name__]
        else f"{cls.__qualname__}.resume_reading changed"
        for cls in (base_protocol.BaseProtocol, client_proto.ResponseHandler)
    ]
    used = set(re.findall(r"self\._protocol\.(\w+)", class_source(streams.StreamReader)))
    return first_problem(
        *problems,
        assigned_in_init(base_protocol.BaseProtocol, "_reading_paused", "_buffer_paused"),
        assigned_in_init(streams.StreamReader, "_protocol"),
        None if used <= READER_USES else f"StreamReader uses its protocol's {sorted(used)}",
    )


RESUME_PROBLEM = run(resume_problem) if DIRECT_OK else "the direct path is off"
RESUME_OK: bool = DIRECT_OK and report(
    "aiohttp", RESUME_PROBLEM, "aiohttp's resume_reading after every read"
)


class ResumeWhenPaused:
    """A body reader's protocol, as that reader sees it: ``resume_reading`` reaches the
    protocol only when its reading is paused."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def resume_reading(self, resume_parser: bool = True) -> None:
        protocol = self.protocol
        if protocol._reading_paused or protocol._buffer_paused:
            protocol.resume_reading(resume_parser)

    def pause_reading(self) -> None:
        self.protocol.pause_reading()

    @property
    def connected(self) -> bool:
        return self.protocol.connected


def reader(response: Any) -> Callable[[], Awaitable[bytes]]:
    """An async callable returning the body's next bytes as they arrive, ``b""`` at its end.
    Pass it to :func:`aclose` when done (before ``response.aclose()``). Read the headers you
    need first: on the direct path the response's and its request's headers are dropped, in
    httpx2 and in aiohttp, and so is the request's body, sent by then (a held stream would keep
    them alive to its end: the body is the whole chat; nothing reads them later)."""
    if DIRECT_OK and _direct(type(response.stream)) and "content-encoding" not in response.headers:
        chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
        response.headers = httpx2.Headers()
        request = response.request
        request.headers = httpx2.Headers()
        # And the request's body (sent by now): a whole chat history per held stream.
        request.stream = _NO_BODY
        request._content = b""
        body = response.stream._aiohttp_response
        # aiohttp's copy of the request headers, kept for error messages about the request:
        # the body's errors name none (~3.5 KB per held stream).
        body._request_info = body._request_info._replace(headers=_NO_HEADERS)
        # And its parsed response headers (the adapter copied them into httpx2's, read before
        # this): ~2.4 KB per held stream against the fake upstream, more from a real vendor.
        # (``headers`` and ``raw_headers`` are aiohttp ``reify`` properties: cached in _cache.)
        body._headers, body._raw_headers = _NO_HEADERS, ()
        body._cache.pop("headers", None)
        body._cache.pop("raw_headers", None)
        content = body.content
        small_deques.compact_upstream(content, chunked=chunked)  # with AI_SMALL_DEQUES
        if RESUME_OK and type(content._protocol) is not ResumeWhenPaused:
            content._protocol = ResumeWhenPaused(content._protocol)
        # read(n), not readany(): everything already buffered in one piece (readany returns one
        # HTTP chunk, so a burst of SSE events would take a turn of the loop each).
        return functools.partial(content.read, READ_SIZE)
    return _Httpx2Reader(response)


async def aclose(read: Callable[[], Awaitable[bytes]]) -> None:
    """Close what :func:`reader` opened (httpx2's iterator; nothing for aiohttp's reader)."""
    if isinstance(read, _Httpx2Reader):
        await read.chunks.aclose()


class _Httpx2Reader:
    """The public path: httpx2's ``aiter_bytes``, one non-empty chunk per call."""

    __slots__ = ("chunks",)

    def __init__(self, response: Any) -> None:
        self.chunks = response.aiter_bytes()

    async def __call__(self) -> bytes:
        async for chunk in self.chunks:
            if chunk:
                return chunk
        return b""
