"""Floors for the held-streams scenario: what relaying a paced stream costs without the gateway.

Two ASGI applications relay the fake upstream's OpenAI stream byte for byte with one shared
aiohttp session, forwarding the client's ``messages`` (so the fake's ``[[fake:...]]`` pacing
directives reach it):

* ``bench.held_floor:application``: a one-view Django project (this module is its settings and
  URLconf; no middleware): an async view returning a ``StreamingHttpResponse``. What uvicorn +
  Django's ASGI handler + aiohttp cost per held stream.
* ``bench.held_floor:raw_application``: the same relay as a bare ASGI app: what uvicorn +
  aiohttp alone cost.

``python -m bench.held_streams --app django-floor`` / ``--app asgi-floor`` serves them as it
serves the gateway; the gateway's cost per stream minus a floor's is what the gateway adds.
``FLOOR_UPSTREAM`` is the fake's base URL.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson

SECRET_KEY = "bench-held-floor-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.held_floor"
USE_TZ = True
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, Any] = {}
MIDDLEWARE: list[str] = []

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:9100")
HEADERS = {"Authorization": "Bearer sk-floor", "Content-Type": "application/json"}
_sessions: dict[int, Any] = {}


def _session() -> Any:
    import aiohttp

    loop = asyncio.get_running_loop()
    http = _sessions.get(id(loop))
    if http is None:
        http = _sessions[id(loop)] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )
    return http


def _upstream_body(raw: bytes) -> bytes:
    messages = orjson.loads(raw or b"{}").get("messages") or [{"role": "user", "content": "hi"}]
    return orjson.dumps(
        {
            "model": "gpt-4o",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": messages,
        }
    )


async def relay(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    resp = await _session().post(
        f"{UPSTREAM}/v1/chat/completions", data=_upstream_body(request.body), headers=HEADERS
    )

    async def frames() -> Any:
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        finally:
            resp.release()

    return StreamingHttpResponse(frames(), content_type="text/event-stream")


relay.csrf_exempt = True  # type: ignore[attr-defined]


def _urls() -> list:
    from django.urls import path

    return [path("relay", relay)]


async def raw_application(scope: dict, receive: Any, send: Any) -> None:
    """The relay as a bare ASGI app (lifespan accepted and ignored)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    resp = await _session().post(
        f"{UPSTREAM}/v1/chat/completions", data=_upstream_body(body), headers=HEADERS
    )
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        async for chunk in resp.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        resp.release()


def __getattr__(name: str) -> Any:
    # Built on first use, so that this module can also be the Django settings module.
    if name == "urlpatterns":
        return _urls()
    if name == "application":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.held_floor")
        from django.core.asgi import get_asgi_application

        app = get_asgi_application()
        globals()["application"] = app
        return app
    raise AttributeError(name)
