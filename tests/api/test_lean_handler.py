"""ai.asgi's application, driven as an ASGI application, by default and with the fast path
(``AI_API_MIDDLEWARE``): what the fast path skips must not change what a host sees (its request
signals, where its receivers run, its URLconf, its middleware's effect), and the request ids it
hands out."""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid

import orjson
import pytest
from django.core import signals
from django.core.asgi import get_asgi_application
from django.http import JsonResponse
from django.test import override_settings
from django.urls import path

from ai._compat import django as compat
from ai.asgi import gateway_application
from ai.ids import new_request_id
from tests.api.sse_client import parse_sse, split_stream

pytestmark = pytest.mark.django_db(transaction=True)


async def _moved(request):
    return JsonResponse({"moved": True}, status=299)


#: A URLconf for override_settings(ROOT_URLCONF=__name__): the status path, another view.
urlpatterns = [path("api/v1/app/ai/status", _moved)]


def http_scope(path: str, *, token: str | None = None, method="GET", extra: tuple = ()) -> dict:
    """An ASGI HTTP scope for ``path`` (JSON content type, ``token`` as a bearer)."""
    host = [] if any(name == b"host" for name, _ in extra) else [(b"host", b"localhost")]
    headers = [*host, (b"content-type", b"application/json"), *extra]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
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


async def call(
    app,
    path: str,
    *,
    token: str | None = None,
    body: bytes = b"",
    method="GET",
    extra: tuple = (),
):
    scope = http_scope(path, token=token, method=method, extra=extra)
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


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture(params=["default", "fast"])
def app(request, settings):
    """The application by default, and with the fast path (no middleware listed)."""
    settings.AI_API_MIDDLEWARE = None if request.param == "default" else []
    return gateway_application(get_asgi_application(), preload=False)


@pytest.fixture
def lean_app(settings):
    settings.AI_API_MIDDLEWARE = []
    return gateway_application(get_asgi_application(), preload=False)


async def test_host_request_signals_still_fire(app, token):
    """Both signals reach sync and async receivers; sync ones run in a thread, not the loop
    (a receiver may use the ORM)."""
    seen = []

    def sync_receiver(sender, **kwargs):
        assert not _in_loop()
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


async def test_the_public_fallbacks_serve_the_same(lean_app, token, monkeypatch):
    """When a Django release changes what ai._compat.django relies on, the lean handler runs
    on Django's public API (its own handle(), Signal.asend, response.close)."""
    for flag in ("HANDLE_OK", "LIVE_RECEIVERS_OK", "CLOSE_OK", "SEND_RESPONSE_OK"):
        monkeypatch.setattr(compat, flag, False)
    seen = []

    def receiver(sender, **kwargs):
        seen.append(_in_loop())

    signals.request_started.connect(receiver)
    signals.request_finished.connect(receiver)
    try:
        status, headers, _ = await call(lean_app, "/api/v1/app/ai/status", token=token)
    finally:
        signals.request_started.disconnect(receiver)
        signals.request_finished.disconnect(receiver)
    assert status == 200 and headers[b"X-Request-ID"]
    assert seen == [False, False]


async def test_cached_url_resolution_follows_a_changed_urlconf(lean_app, token):
    app = lean_app
    status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)
    assert status == 200
    with override_settings(ROOT_URLCONF=__name__):
        # Not one of the app's views any more: the ordinary handler serves it.
        status, _, content = await call(app, "/api/v1/app/ai/status", token=token)
        assert (status, orjson.loads(content)) == (299, {"moved": True})
    status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)
    assert status == 200


PURE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


@pytest.mark.parametrize("api_middleware", [None, PURE])
async def test_pure_middleware_on_the_fast_path_and_a_gzipped_stream(
    settings, token, api_middleware
):
    """Django's pure middlewares do on the fast path (in the loop) what they do in MIDDLEWARE;
    GZipMiddleware's wrapped stream is what is sent, and it decompresses to whole frames."""
    settings.MIDDLEWARE = PURE
    settings.AI_API_MIDDLEWARE = api_middleware
    app = gateway_application(get_asgi_application(), preload=False)
    body = orjson.dumps({"prompt": "squeeze this stream " * 20, "stream": True})
    status, headers, content = await call(
        app,
        "/api/v1/app/ai/chat",
        token=token,
        body=body,
        method="POST",
        extra=((b"accept-encoding", b"gzip"),),
    )
    assert status == 200
    assert headers[b"X-Content-Type-Options"] == b"nosniff"
    assert headers[b"X-Frame-Options"] == b"DENY"
    assert headers[b"Content-Encoding"] == b"gzip"
    deltas, _done, finished, error = split_stream(parse_sse(gzip.decompress(content)))
    assert finished and error is None and len(deltas) > 20


async def test_unknown_api_path_is_404_every_time(app, token):
    for _ in range(2):
        status, _, _ = await call(app, "/api/v1/app/ai/nope", token=token)
        assert status == 404


async def test_json_body_and_request_id(app, token):
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


@pytest.mark.parametrize("freeze", [True, False, None])
async def test_startup_freezes_the_heap_only_when_asked(lean_app, settings, freeze):
    import gc

    app = lean_app
    if freeze is None:
        del settings.AI_GC_FREEZE  # the default: the host's heap is left alone
    else:
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
    assert (frozen > 10_000) is bool(freeze)


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [((10_000, 10, 50), (10_000, 10, 50)), ([5_000], (5_000, 10, 10)), (None, (700, 10, 10))],
)
async def test_startup_sets_gc_thresholds_only_when_asked(lean_app, settings, thresholds, expected):
    import gc

    settings.AI_GC_THRESHOLDS = thresholds
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, whatever the test process runs with
    try:
        await _lifespan(lean_app, ["startup", "shutdown"])
        applied = gc.get_threshold()
    finally:
        gc.set_threshold(*saved)
    assert applied == expected


@pytest.mark.parametrize("value", ["10000,10,50", [1, 2, 3, 4], [-1], ["700"], [700.0], 5])
def test_an_invalid_gc_threshold_is_a_system_check_error(settings, value):
    from django.core.checks import run_checks

    settings.AI_GC_THRESHOLDS = value
    [error] = [m for m in run_checks() if m.id == "ai.E003"]
    assert "AI_GC_THRESHOLDS" in error.msg


def test_valid_gc_thresholds_pass_the_checks(settings):
    from django.core.checks import run_checks

    for value in (None, (10_000, 10, 50), [0]):
        settings.AI_GC_THRESHOLDS = value
        assert not [m for m in run_checks() if m.id == "ai.E003"]


async def test_login_required_middleware_leaves_the_api_alone(settings, token):
    """A host with Django's LoginRequiredMiddleware: the token-authenticated API is not
    redirected to a login page (DRF's as_view marks its views login_required = False)."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    settings.AI_API_MIDDLEWARE = None
    app = gateway_application(get_asgi_application(), preload=False)
    status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)
    assert status == 200


async def test_disallowed_host_is_a_400_on_the_fast_path(settings, token):
    """CommonMiddleware in the loop still turns DisallowedHost into Django's 400."""
    settings.ALLOWED_HOSTS = ["gateway.example"]
    settings.AI_API_MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    app = gateway_application(get_asgi_application(), preload=False)
    status, _, _ = await call(app, "/api/v1/app/ai/status", token=token)  # Host: localhost
    assert status == 400
    status, _, _ = await call(
        app, "/api/v1/app/ai/status", token=token, extra=((b"host", b"gateway.example"),)
    )
    assert status == 200


async def _leave_after(app, token: str, payload: dict, seconds: float) -> list[dict]:
    """Send ``payload`` to the completions endpoint and disconnect after ``seconds``; the ASGI
    messages the application sent."""
    scope = http_scope("/api/v1/app/ai/completions", token=token, method="POST")
    sent: list[dict] = []
    delivered = False

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": orjson.dumps(payload), "more_body": False}
        await asyncio.sleep(seconds)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    started = time.monotonic()
    await asyncio.wait_for(app(scope, receive, send), 5)
    assert time.monotonic() - started < 3  # not the 10 s the answer would take
    return sent


@pytest.mark.parametrize("stream", [False, True])
async def test_a_client_that_leaves_ends_its_request_at_once(
    app, token, scripted_provider, usage_events, stream
):
    """The disconnect listener cancels the response, before it starts or while it streams:
    the handler returns at once, request_finished is sent, the upstream is closed and the
    ledger row says cancelled (on the fast path the response runs in the request's own task)."""
    finished = []

    async def receiver(sender, **kwargs):
        finished.append(True)

    signals.request_finished.connect(receiver)
    prompt = f"leave [[slow]] {stream}"
    try:
        sent = await _leave_after(
            app,
            token,
            {
                "messages": [{"role": "user", "content": prompt}],
                "stream": stream,
                "provider": "scripted",
                "model": "m",
            },
            0.3,
        )
    finally:
        signals.request_finished.disconnect(receiver)
    assert finished == [True]
    if stream:
        assert sent[0]["type"] == "http.response.start" and len(sent) > 2  # some deltas went
        assert prompt in scripted_provider.CLOSED
    else:
        assert sent == []  # nothing was answered
    for _ in range(50):  # a stream records in its clean-up
        if usage_events:
            break
        await asyncio.sleep(0.02)
    [event] = usage_events
    assert event.status == "cancelled"


async def test_an_invalid_message_after_the_body_is_raised(lean_app, token):
    """As in Django's handler: the listener's AssertionError (a server bug) is raised."""
    scope = http_scope("/api/v1/app/ai/status", token=token)
    calls = 0

    async def receive():
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "websocket.receive"}

    async def send(message):
        await asyncio.sleep(0.05)  # the listener gets its answer first

    with pytest.raises(AssertionError, match="Invalid ASGI message"):
        await asyncio.wait_for(lean_app(scope, receive, send), 5)


async def test_a_server_cancelling_the_request_is_not_taken_for_a_disconnect(
    lean_app, token, scripted_provider
):
    """A cancellation from outside (a server shutting down) propagates, even when the client
    has left at the same moment."""
    task = asyncio.ensure_future(
        _leave_after(
            lean_app,
            token,
            {
                "messages": [{"role": "user", "content": "[[slow]]"}],
                "provider": "scripted",
                "model": "m",
            },
            3600,
        )
    )
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
