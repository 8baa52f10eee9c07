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

    app = web.Application()
    app.router.add_post("/plain", plain)
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
