"""A held stream lets go of its request once the response has started
(``ai._compat.django.release_request``):
under the lean handler, where the SSE response writes its own frames, every middleware has seen
the whole request, and the stream then keeps neither its META nor its body."""

from __future__ import annotations

import gzip
import io

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http.request import RawPostDataException

from ai._compat.django import RELEASE_OK, release_request
from tests.api.conftest import CHAT
from tests.api.live import LiveGateway
from tests.api.sse_client import parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

#: The requests the middleware below saw, and what it saw of them in process_response.
SEEN: list[tuple[object, bool, bytes]] = []


class Recording:
    """A host middleware that reads the request's body before the view and its META as the
    response goes out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        body = request.body  # read before the view (DRF then parses the cached body)
        response = self.get_response(request)
        SEEN.append((request, "HTTP_AUTHORIZATION" in request.META, body))
        return response


def _asgi_request(body: bytes = b'{"prompt": "hi"}') -> ASGIRequest:
    scope = {
        "type": "http",
        "method": "POST",
        "path": CHAT,
        "query_string": b"a=1",
        "headers": [(b"content-type", b"application/json"), (b"cookie", b"c=1")],
    }
    return ASGIRequest(scope, io.BytesIO(body))


def test_the_django_internals_release_needs_are_there():
    assert RELEASE_OK


def test_release_empties_what_a_request_holds():
    request = _asgi_request()
    request.user, request.auth = object(), object()  # as DRF sets them on the Django request
    assert request.body and request.GET["a"] == "1" and request.COOKIES == {"c": "1"}
    assert request.headers["content-type"] == "application/json"
    body_file = request._stream

    release_request(request)

    assert request.scope == {} and request.COOKIES == {}
    assert "CONTENT_TYPE" not in request.META and "HTTP_COOKIE" not in request.META
    assert not request.GET and "headers" not in request.__dict__
    assert "user" not in request.__dict__ and "auth" not in request.__dict__
    assert body_file.closed
    # Nor the file object itself (the handler closes the body through the request).
    assert request._stream is not body_file and request._stream.closed
    with pytest.raises(RawPostDataException):
        request.body  # noqa: B018
    request.close()  # as the handler does at the end


def test_a_released_request_still_answers_what_error_reporters_ask():
    """Nothing read before (no GET, no body): after release, the host, the URL and the query
    are still there to ask for, empty where they were let go, and the body refuses clearly."""
    request = _asgi_request()
    release_request(request)
    assert request.get_host() and CHAT in request.build_absolute_uri()
    assert request.method == "POST" and not request.GET and request.META["QUERY_STRING"]
    with pytest.raises(RawPostDataException):
        request.body  # noqa: B018


def test_release_leaves_uploaded_files_for_close():
    request = _asgi_request()
    upload = io.BytesIO(b"x")
    request._files = {"f": upload}  # what FILES parsing leaves (closed by request.close())
    release_request(request)
    assert request._files == {"f": upload} and not upload.closed


@pytest.fixture(params=["default", "fast"])
def live(request, settings):
    SEEN.clear()
    middleware = "tests.api.test_stream_release.Recording"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, middleware]
    settings.AI_API_MIDDLEWARE = None if request.param == "default" else [middleware]
    server = LiveGateway().start()
    yield request.param, server
    server.stop()


async def test_a_stream_releases_its_request_after_the_middleware_saw_it(live, token):
    import httpx2

    mode, server = live
    async with httpx2.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.post(
            CHAT,
            json={"prompt": "hi", "stream": True},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert parse_sse(response.content)[-1].data == "[DONE]"
    [(request, saw_auth, body)] = SEEN
    assert saw_auth and b'"prompt"' in body  # the middleware saw all of it
    if mode == "fast":  # the lean handler: the response wrote its frames, the request let go
        assert "HTTP_AUTHORIZATION" not in request.META and "_body" not in request.__dict__
    else:  # Django's own handler iterates the response: nothing is released
        assert request.META["HTTP_AUTHORIZATION"].startswith("Bearer ")


async def test_a_wrapped_stream_keeps_its_request(settings, token):
    """A middleware that wraps the content (GZip here) runs its wrapper during the stream:
    the request and the response's headers stay whole for it."""
    import httpx2

    SEEN.clear()
    middleware = "tests.api.test_stream_release.Recording"
    settings.AI_API_MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware", middleware]
    server = LiveGateway().start()
    try:
        async with (
            httpx2.AsyncClient(base_url=server.url, timeout=10) as http,
            http.stream(
                "POST",
                CHAT,
                json={"prompt": "hi", "stream": True},
                headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
            ) as response,
        ):
            raw = b"".join([part async for part in response.aiter_raw()])
    finally:
        server.stop()
    assert response.headers["content-encoding"] == "gzip"
    # GZipMiddleware compresses each frame as a gzip member of its own (httpx2's decoder
    # stops after the first member; gzip.decompress reads them all).
    assert parse_sse(gzip.decompress(raw))[-1].data == "[DONE]"
    [(request, _, _)] = SEEN
    assert request.META["HTTP_AUTHORIZATION"].startswith("Bearer ")


async def test_a_held_stream_keeps_no_message_of_its_chat(live, token, upstream_settings):
    """While a stream is held (its first delta relayed, the upstream paced), nothing of the
    gateway keeps the chat's messages: the view's call, the relay's, the stream's request and
    the provider's all let go once the upstream answered."""
    import asyncio
    import gc

    import httpx2

    from ai.providers.messages import Message

    _, server = live
    marker = "held-chat-marker " * 50
    body = {"prompt": marker + "[[fake:chunks=4 chunk_delay=0.3]]", "provider": "openai"}
    async with (
        httpx2.AsyncClient(base_url=server.url, timeout=10) as http,
        http.stream(
            "POST",
            CHAT,
            json={**body, "stream": True},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        chunks = response.aiter_bytes()
        first = await anext(chunks)
        assert b'"delta"' in first
        await asyncio.sleep(0.05)
        gc.collect()
        alive = [o for o in gc.get_objects() if type(o) is Message and marker in o.content]
        rest = b"".join([c async for c in chunks])
    assert alive == []
    assert parse_sse(first + rest)[-1].data == "[DONE]"
