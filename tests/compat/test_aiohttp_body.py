"""ai._compat.aiohttp_body: a streamed body is read straight from aiohttp under the SDKs' vendored
httpx2 adapter when the adapter still keeps aiohttp's response where the guard looks, and through
httpx2 otherwise (a changed adapter, a compressed body, the httpx2 transport). Real wire: a small
aiohttp server on 127.0.0.1 and the SDKs' own aiohttp clients."""

from __future__ import annotations

import gzip
import importlib
import logging

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
    app.router.add_get("/plain", plain)
    app.router.add_get("/gzip", gzipped)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # the test's own server
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _read_all(client: httpx2.AsyncClient, url: str) -> tuple[object, bytes]:
    response = await client.send(client.build_request("GET", url), stream=True)
    assert response.headers["content-type"] == "text/event-stream"
    read = aiohttp_body.reader(response)
    direct = _is_aiohttp(read)
    # The direct path drops the headers a held stream would keep; httpx2's path needs them.
    assert (len(response.headers) == 0) is direct
    assert (len(response.request.headers) == 0) is direct
    if direct:  # and aiohttp's own copy of the request headers
        assert len(response.stream._aiohttp_response.request_info.headers) == 0
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
    assert aiohttp_body.PROBLEM is None, aiohttp_body.PROBLEM
    assert aiohttp_body.DIRECT_OK
    assert len(aiohttp_body._stream_classes) == 2  # openai's adapter and anthropic's


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


@pytest.mark.parametrize("sdk", [openai, anthropic])
async def test_httpx2_s_own_send_wraps_the_stream_and_is_read_through_httpx2(sdk, server):
    client = sdk.DefaultAioHttpClient()  # no LeanSend: httpx2 wraps the adapter's stream
    try:
        read, body = await _read_all(client, f"{server}/plain")
    finally:
        await client.aclose()
    assert not _is_aiohttp(read)
    assert body == b"".join(BODY)


async def test_a_compressed_body_is_decoded_by_httpx2(server):
    client = openai_provider._AioHttpClient(follow_redirects=False)
    try:
        read, body = await _read_all(client, f"{server}/gzip")
    finally:
        await client.aclose()
    assert not _is_aiohttp(read)
    assert body == b"".join(BODY)


async def test_the_httpx2_transport_reads_through_httpx2(server):
    async with httpx2.AsyncClient() as client:
        read, body = await _read_all(client, f"{server}/plain")
    assert not _is_aiohttp(read)
    assert body == b"".join(BODY)


async def test_a_changed_adapter_reads_through_httpx2(monkeypatch, caplog, server):
    from openai._vendor.httpx_aiohttp import transport as httpx_aiohttp

    def __init__(self, aiohttp_response):  # a release that renamed the attribute
        self._response = aiohttp_response

    try:
        with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, "ai.compat"):
            patched.setattr(httpx_aiohttp.AiohttpResponseStream, "__init__", __init__)
            module = importlib.reload(aiohttp_body)
            assert not module.DIRECT_OK
            assert "no longer sets _aiohttp_response" in module.PROBLEM
            [warning] = [r for r in caplog.records if r.name == "ai.compat"]
            assert "aiter_bytes" in warning.getMessage()
    finally:
        module = importlib.reload(aiohttp_body)
    assert module.DIRECT_OK
