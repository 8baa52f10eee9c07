"""ai.asgi's lean handler, driven as an ASGI application: what it skips must not change what a
host sees (its request signals, its URLconf), and the request ids it hands out."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from django.core import signals
from django.core.asgi import get_asgi_application
from django.http import JsonResponse
from django.test import override_settings
from django.urls import path

from ai.asgi import gateway_application
from ai.ids import new_request_id

pytestmark = pytest.mark.django_db(transaction=True)


async def _moved(request):
    return JsonResponse({"moved": True}, status=299)


#: A URLconf for override_settings(ROOT_URLCONF=__name__): the status path, another view.
urlpatterns = [path("api/v1/app/ai/status", _moved)]


async def call(app, path: str, *, token: str | None = None, body: bytes = b"", method="GET"):
    headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = []
    delivered = False

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # no disconnect: the client waits for the answer

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    content = b"".join(m.get("body", b"") for m in sent[1:])
    return status, dict(sent[0]["headers"]), content


@pytest.fixture
def app():
    return gateway_application(get_asgi_application(), preload=False)


async def test_host_request_signals_still_fire(app, token):
    seen = []

    def sync_receiver(sender, **kwargs):
        seen.append(("sync", "started" if "scope" in kwargs else "finished"))

    async def async_receiver(sender, **kwargs):
        seen.append(("async", "started" if "scope" in kwargs else "finished"))

    for signal in (signals.request_started, signals.request_finished):
        signal.connect(sync_receiver)
        signal.connect(async_receiver)
    try:
        status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.disconnect(sync_receiver)
            signal.disconnect(async_receiver)
    assert status == 200
    assert sorted(seen) == sorted(
        [("sync", "started"), ("async", "started"), ("sync", "finished"), ("async", "finished")]
    )


async def test_cached_url_resolution_follows_a_changed_urlconf(app, token):
    status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)
    assert status == 200
    with override_settings(ROOT_URLCONF=__name__):
        status, _, content = await call(app, "/api/v1/app/ai/status", token=token)
        assert (status, orjson.loads(content)) == (299, {"moved": True})
    status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)
    assert status == 200


async def test_unknown_api_path_is_404_every_time(app, token):
    for _ in range(2):
        status, _, _ = await call(app, "/api/v1/app/ai/nope", token=token)
        assert status == 404


async def test_json_body_and_request_id_through_the_lean_handler(app, token):
    body = orjson.dumps({"messages": [{"role": "user", "content": "hi"}], "provider": "offline"})
    status, headers, content = await call(
        app, "/api/v1/app/ai/completions", token=token, body=body, method="POST"
    )
    assert status == 200, content
    answer = orjson.loads(content)
    assert answer["content"]
    assert headers[b"X-Request-ID"].decode() == answer["id"]
    assert uuid.UUID(answer["id"]).version == 4

    status, _, content = await call(
        app, "/api/v1/app/ai/completions", token=token, body=b"{nope", method="POST"
    )
    assert status == 400
    assert orjson.loads(content)["error"]["code"] == "invalid_json"


def test_request_ids_are_version_4_uuids_and_unique():
    ids = [new_request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:600]:  # across more than one 4 KiB block of randomness
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert parsed.hex == value


async def _lifespan(app, events: list[str]) -> list[dict]:
    sent = []
    queue = [{"type": f"lifespan.{event}"} for event in events]

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    return sent


@pytest.mark.parametrize("freeze", [True, False])
async def test_startup_freezes_the_heap_only_when_asked(app, settings, freeze):
    import gc

    settings.AI_GC_FREEZE = freeze
    gc.unfreeze()
    try:
        sent = await _lifespan(app, ["startup", "shutdown"])
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert (frozen > 10_000) is freeze
