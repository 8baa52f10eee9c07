"""Streams behind Django's GZipMiddleware: one gzip stream, each frame decodable as it comes.

Django compresses each part of an async stream as a gzip file of its own; httpx (the official
OpenAI and Anthropic Python SDKs) decodes only the first, so a client would see one frame.
"""

from __future__ import annotations

import zlib

import httpx2
import pytest

from tests.api.conftest import CHAT
from tests.api.live import LiveGateway
from tests.api.sse_client import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

GZIP = "django.middleware.gzip.GZipMiddleware"


@pytest.fixture(params=["default", "fast"])
def live(request, settings):
    """GZip in the host's MIDDLEWARE (default) or in the fast path's list."""
    settings.MIDDLEWARE = [GZIP, *settings.MIDDLEWARE]
    settings.AI_API_MIDDLEWARE = None if request.param == "default" else [GZIP]
    server = LiveGateway().start()
    yield server
    server.stop()


def _client(server, token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=server.url,
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
    )


async def test_an_httpx_client_reads_the_whole_gzipped_stream(live, token):
    async with _client(live, token) as http:
        response = await http.post(CHAT, json={"prompt": "hi", "stream": True})
    assert response.headers["content-encoding"] == "gzip"
    frames = parse_sse(response.content)  # httpx2's own gzip decoding
    assert frames[-1].data == "[DONE]"
    assert sum(1 for f in frames if f.data and '"delta"' in f.data) > 1


async def test_each_frame_is_decodable_as_it_comes(live, token, upstream_settings):
    """Paced deltas: the first raw chunk decodes on its own into whole frames, and the body is
    a single gzip file."""
    body = {"prompt": "hi [[fake:chunks=3 chunk_delay=0.2]]", "provider": "openai", "stream": True}
    async with _client(live, token) as http, http.stream("POST", CHAT, json=body) as r:
        chunks = [chunk async for chunk in r.aiter_raw()]
    decoder = zlib.decompressobj(wbits=31)
    first = decoder.decompress(chunks[0])
    assert first.startswith(b"data: ") and first.endswith(b"\n\n")
    rest = b"".join(decoder.decompress(c) for c in chunks[1:])
    assert decoder.eof and decoder.unused_data == b""  # one gzip file, ended
    assert parse_sse(first + rest)[-1].data == "[DONE]"
