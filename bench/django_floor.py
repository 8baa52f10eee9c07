"""The floor under the gateway: the least a Django app on the same ASGI server can cost.

Settings, URLs and views in one module (``DJANGO_SETTINGS_MODULE=bench.django_floor``; the ASGI
app is ``bench.floor_asgi:application``):

* ``POST /floor``: an async view answering a small JSON body (what Django alone costs);
* ``POST /floor/relay``: an async view relaying the fake upstream's OpenAI stream byte for byte
  with aiohttp (what streaming through Django costs with no SDK, no parsing).

``FLOOR_MIDDLEWARE=1`` adds the example host's middleware stack (gateway_project.settings), to
show what Django's sync-only middleware costs under ASGI.
"""

from __future__ import annotations

import os

import orjson
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

SECRET_KEY = "bench-floor-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.django_floor"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
MIDDLEWARE: list[str] = []
if os.environ.get("FLOOR_MIDDLEWARE") == "1":
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:9100")
_sessions: dict[int, object] = {}


async def floor(request):
    body = orjson.loads(request.body or b"{}")
    answer = {"content": "Hello", "model": body.get("model"), "usage": {"total_tokens": 3}}
    return HttpResponse(orjson.dumps(answer), content_type="application/json")


def _session():
    import asyncio

    import aiohttp

    loop = asyncio.get_running_loop()
    http = _sessions.get(id(loop))
    if http is None:
        http = _sessions[id(loop)] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )
    return http


async def relay(request):
    body = {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Say hello"}],
    }
    resp = await _session().post(
        f"{UPSTREAM}/v1/chat/completions",
        data=orjson.dumps(body),
        headers={"Authorization": "Bearer sk-floor", "Content-Type": "application/json"},
    )

    async def frames():
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        finally:
            resp.release()

    return StreamingHttpResponse(frames(), content_type="text/event-stream")


# CSRF does not apply: there are no cookies, and with FLOOR_MIDDLEWARE the views are exempt.
floor.csrf_exempt = True  # type: ignore[attr-defined]
relay.csrf_exempt = True  # type: ignore[attr-defined]

urlpatterns = [path("floor", floor), path("floor/relay", relay)]
