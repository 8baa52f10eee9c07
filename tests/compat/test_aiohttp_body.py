"""ai._compat.aiohttp_body: a streamed body is read straight from aiohttp under the SDKs' vendored
httpx2 adapter when the adapter still keeps aiohttp's response where the guard looks, and through
httpx2 otherwise (a changed adapter, a compressed body, the httpx2 transport). Real wire: a small
aiohttp server on 127.0.0.1 and the SDKs' own aiohttp clients."""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys

import aiohttp
import anthropic
import httpx2
import openai
import pytest
from aiohttp import web

from ai._compat import aiohttp_body
from ai.providers import anthropic as anthropic_provider
from ai.providers import openai as openai_provider

BODY = [b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"]
#: Events of ~1 KB in /large: 2 MB, far past what aiohttp buffers before it pauses reading.
LARGE_EVENTS = 2000


@pytest.fixture
async def server():
    async def plain(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for part in BODY:
            await response.write(part)
        await response.write_eof()
        return response

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(b"".join(BODY)),
            headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"},
        )

    async def large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(LARGE_EVENTS):
            await response.write(b"data: %08d %s\n\n" % (i, b"x" * 1000))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/plain", plain)
    app.router.add_post("/large", large)
    app.router.add_post("/gzip", gzipped)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # the test's own server
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _read_all(client: httpx2.AsyncClient, url: str) -> tuple[object, bytes]:
    request = client.build_request("POST", url, content=b'{"prompt": "a whole chat"}')
    response = await client.send(request, stream=True)
    assert response.headers["content-type"] == "text/event-stream"
    read = aiohttp_body.reader(response)
    direct = _is_aiohttp(read)
    # The direct path drops the headers a held stream would keep; httpx2's path needs them.
    assert (len(response.headers) == 0) is direct
    assert (len(response.request.headers) == 0) is direct
    if direct:  # and aiohttp's own copy of the request headers
        assert len(response.stream._aiohttp_response.request_info.headers) == 0
        # and aiohttp's parsed response headers (httpx2's copy was read before)
        assert len(response.stream._aiohttp_response.headers) == 0
        assert response.stream._aiohttp_response.raw_headers == ()
        # and the request's body, sent by now
        assert response.request.content == b"" and b"".join(response.request.stream) == b""
    else:
        assert response.request.content == b'{"prompt": "a whole chat"}'
    body = b""
    try:
        while chunk := await read():
            body += chunk
    finally:
        await aiohttp_body.aclose(read)
        await response.aclose()
    return read, body


def _is_aiohttp(read) -> bool:
    """Whether ``read`` is aiohttp's own ``StreamReader.read`` (the direct path)."""
    func = getattr(read, "func", None)
    return isinstance(getattr(func, "__self__", None), aiohttp.StreamReader)


def test_checks_pass_on_the_installed_sdks():
    from anthropic._vendor.httpx_aiohttp.transport import AiohttpResponseStream as ByAnthropic
    from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream as ByOpenAI

    assert aiohttp_body.PROBLEM is None, aiohttp_body.PROBLEM
    assert aiohttp_body.DIRECT_OK
    assert aiohttp_body.RESUME_PROBLEM is None, aiohttp_body.RESUME_PROBLEM
    assert aiohttp_body.RESUME_OK
    assert aiohttp_body.adapter_problem(ByOpenAI) is None
    assert aiohttp_body.adapter_problem(ByAnthropic) is None


def test_importing_the_guard_loads_no_sdk():
    """The adapters are checked when a response comes from one: a worker that serves only
    OpenAI does not load anthropic (40 MB) because of this module."""
    code = (
        "import sys; import ai._compat.aiohttp_body; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'openai', 'anthropic'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("provider", [openai_provider, anthropic_provider])
async def test_the_providers_aiohttp_client_is_read_straight_from_aiohttp(provider, server):
    # The SDK's aiohttp client with the gateway's LeanSend, configured as the providers do.
    client = provider._AioHttpClient(follow_redirects=False)
    try:
        read, body = await _read_all(client, f"{server}/plain")
    finally:
        await client.aclose()
    assert _is_aiohttp(read)
    assert body == b"".join(BODY)


#: Where the body is read through httpx2: (client, path).
THROUGH_HTTPX2 = {
    # No LeanSend: httpx2's own send wraps the adapter's stream.
    "openai's own aiohttp client": (openai.DefaultAioHttpClient, "/plain"),
    "anthropic's own aiohttp client": (anthropic.DefaultAioHttpClient, "/plain"),
    # The adapter leaves decoding to httpx2.
    "a compressed body": (lambda: openai_provider._AioHttpClient(follow_redirects=False), "/gzip"),
    "the httpx2 transport": (httpx2.AsyncClient, "/plain"),
}


@pytest.mark.parametrize("case", list(THROUGH_HTTPX2))
async def test_the_other_cases_read_through_httpx2(case, server):
    make, path = THROUGH_HTTPX2[case]
    client = make()
    try:
        read, body = await _read_all(client, f"{server}{path}")
    finally:
        await client.aclose()
    assert not _is_aiohttp(read)
    assert body == b"".join(BODY)


async def test_a_changed_adapter_reads_through_httpx2(monkeypatch, caplog, server):
    from openai._vendor.httpx_aiohttp import transport as httpx_aiohttp

    def __init__(self, aiohttp_response):  # a release that renamed the attribute
        self._response = aiohttp_response

    cls = httpx_aiohttp.AiohttpResponseStream
    monkeypatch.setattr(cls, "__init__", __init__)
    monkeypatch.setattr(aiohttp_body, "_adapters", {})
    assert "no longer sets _aiohttp_response" in aiohttp_body.adapter_problem(cls)
    with caplog.at_level(logging.WARNING, "ai.compat"):
        assert not aiohttp_body._direct(cls)
        assert not aiohttp_body._direct(cls)  # said once
    [warning] = [r for r in caplog.records if r.name == "ai.compat"]
    assert "aiter_bytes" in warning.getMessage()


async def test_the_direct_reader_resumes_a_paused_connection(server):
    """The reader's protocol passes ``resume_reading`` on only when reading is paused: a body
    larger than aiohttp's buffer, read slowly, pauses the connection and must still arrive
    whole (a resume lost would hang the read)."""
    import asyncio

    client = openai_provider._AioHttpClient(follow_redirects=False)
    try:
        request = client.build_request("POST", f"{server}/large", content=b"{}")
        response = await client.send(request, stream=True)
        read = aiohttp_body.reader(response)
        content = read.func.__self__
        assert type(content._protocol) is aiohttp_body.ResumeWhenPaused
        protocol = content._protocol.protocol
        paused = resumed = 0
        pause, resume = protocol.pause_reading, protocol.resume_reading

        def counting_pause() -> None:
            nonlocal paused
            paused += 1
            pause()

        def counting_resume(resume_parser: bool = True) -> None:
            nonlocal resumed
            resumed += 1
            resume(resume_parser)

        protocol.pause_reading, protocol.resume_reading = counting_pause, counting_resume
        await asyncio.sleep(0.2)  # let the server fill the buffer past its high-water mark
        body = b""
        async with asyncio.timeout(10):
            while chunk := await read():
                body += chunk
        await response.aclose()
    finally:
        await client.aclose()
    assert body.count(b"\n\n") == LARGE_EVENTS
    assert body.startswith(b"data: 00000000 ") and b"data: %08d " % (LARGE_EVENTS - 1) in body
    assert paused >= 1 and resumed >= 1  # it did pause, and was resumed through the stand-in
    assert resumed <= paused + 1  # (the end of the body resumes once more, unpaused or not)


def test_the_stand_in_passes_resume_on_only_when_paused():
    class Protocol:
        _reading_paused = _buffer_paused = False
        connected = True

        def __init__(self) -> None:
            self.calls: list[bool] = []

        def resume_reading(self, resume_parser: bool = True) -> None:
            self.calls.append(resume_parser)
            self._reading_paused = self._buffer_paused = False

    protocol = Protocol()
    stand_in = aiohttp_body.ResumeWhenPaused(protocol)
    stand_in.resume_reading()
    assert protocol.calls == []
    protocol._reading_paused = True
    stand_in.resume_reading()
    protocol._buffer_paused = True
    stand_in.resume_reading(resume_parser=False)
    assert protocol.calls == [True, False]
    assert stand_in.connected is True


def test_a_changed_aiohttp_is_found(monkeypatch):
    original = aiohttp_body.EXPECTED_RESUME
    changed = {
        **original,
        "BaseProtocol": (*original["BaseProtocol"], "self._reschedule_timeout()"),
    }
    monkeypatch.setattr(aiohttp_body, "EXPECTED_RESUME", changed)
    assert aiohttp_body.resume_problem() == "BaseProtocol.resume_reading changed"
    monkeypatch.setattr(aiohttp_body, "EXPECTED_RESUME", original)
    monkeypatch.setattr(aiohttp_body, "READER_USES", frozenset({"connected"}))
    assert "StreamReader uses its protocol's" in aiohttp_body.resume_problem()


async def test_without_the_check_the_reader_keeps_its_protocol(monkeypatch, server):
    from aiohttp.client_proto import ResponseHandler

    monkeypatch.setattr(aiohttp_body, "RESUME_OK", False)
    client = openai_provider._AioHttpClient(follow_redirects=False)
    try:
        request = client.build_request("POST", f"{server}/plain", content=b"{}")
        response = await client.send(request, stream=True)
        read = aiohttp_body.reader(response)
        assert type(read.func.__self__._protocol) is ResponseHandler
        body = b""
        while chunk := await read():
            body += chunk
        await response.aclose()
    finally:
        await client.aclose()
    assert body == b"".join(BODY)
