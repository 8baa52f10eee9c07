"""Serving the gateway's API without the browser middleware stack.

Django's standard middleware (sessions, CSRF, authentication, messages) is written for sync code:
under ASGI each one costs two thread hops per request, several times what a gateway view costs.
JWT-authenticated JSON endpoints use none of it. :func:`gateway_application` puts a lean Django
handler (same project, same URLconf, its own short middleware list) in front of the API paths and
leaves every other path (admin, docs) to the ordinary handler::

    # asgi.py
    from django.core.asgi import get_asgi_application
    django_app = get_asgi_application()
    from ai.asgi import gateway_application
    application = gateway_application(django_app)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.asgi import get_asgi_application
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections, reset_queries
from django.dispatch import Signal
from django.http import HttpResponseBase
from django.urls import URLResolver, get_resolver, set_script_prefix, set_urlconf

DEFAULT_API_MIDDLEWARE = ("ai.middleware.allowed_hosts_middleware",)
#: The app's own API paths (ai.urls included at the root): all JWT-authenticated JSON/SSE views.
API_PREFIXES = ("/api/v1/app/ai/", "/api/v1/openai/", "/api/v1/auth/")
#: Django's receivers of request_started / request_finished that tidy the *current thread's*
#: database connections. The event loop's thread has none (the gateway's database work runs in
#: ai.db's thread pool), so on the lean handler they are skipped: about 18 µs per request, most
#: of it asgiref Local look-ups. Every other receiver (a host's, a library's) still runs.
LOOP_THREAD_NOOPS = frozenset({close_old_connections, reset_queries})


async def send_signal(signal: Signal, sender: Any, **named: Any) -> None:
    """``signal.send`` / ``asend`` minus :data:`LOOP_THREAD_NOOPS`, from the event loop: sync
    receivers inline (Django's own request signals do no I/O), async ones awaited."""
    if not signal.receivers:
        return
    sync_receivers, async_receivers = signal._live_receivers(sender)
    for receiver in sync_receivers:
        if receiver not in LOOP_THREAD_NOOPS:
            receiver(signal=signal, sender=sender, **named)
    for receiver in async_receivers:
        await receiver(signal=signal, sender=sender, **named)


@functools.lru_cache(maxsize=256)
def _resolve(resolver: URLResolver, path: str) -> Any:
    # Keyed by the resolver object: a changed ROOT_URLCONF (or request.urlconf) is a new key.
    # A path that does not resolve raises Resolver404, which is not cached.
    return resolver.resolve(path)


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler with its own middleware list instead of ``settings.MIDDLEWARE``,
    and the request signals sent inline.

    Django's handler sends ``request_started`` / ``request_finished`` through ``asend`` and
    closes the response through ``sync_to_async``: Django's own receivers are sync, so that is
    three thread hops per request (each starting a thread for the request's thread-sensitive
    context), about a millisecond. Their work here is free: they close the database connections
    of the current thread, and the event loop's thread has none (the gateway's database work
    runs in the thread pool, see ``ai.db``). So they run inline, in the loop.
    """

    def __init__(self, middleware: Sequence[str] = DEFAULT_API_MIDDLEWARE) -> None:
        self.middleware = list(middleware)
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; swap it only while building
        # the chain (at construction, before any request is served).
        saved = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = saved

    async def handle(self, scope: dict, receive: Any, send: Any) -> None:
        # Django 5.2's ASGIHandler.handle, with signals.*.asend and sync_to_async(close) inline.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        await send_signal(signals.request_started, self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request() -> Any:
            response = await self.run_get_response(request)
            # A CancelledError here: the client went away while the response was being sent.
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
            return response

        # As Django does: a client disconnect while the response is produced cancels it.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await send_signal(signals.request_finished, self.__class__)
        else:
            await self.close_response(response)
        body_file.close()

    async def close_response(self, response: HttpResponseBase) -> None:
        # HttpResponseBase.close(), with request_finished sent through send_signal.
        for closer in response._resource_closers:
            with contextlib.suppress(Exception):
                closer()
        response._resource_closers.clear()
        response.closed = True
        await send_signal(signals.request_finished, response._handler_class)

    def resolve_request(self, request: Any) -> Any:
        """BaseHandler.resolve_request, with the match cached per resolver and path (the API
        has a handful of paths; resolving one walks the project's URLconf, ~18 µs)."""
        if hasattr(request, "urlconf"):
            set_urlconf(request.urlconf)
            resolver = get_resolver(request.urlconf)
        else:
            resolver = get_resolver()
        match = _resolve(resolver, request.path_info)
        request.resolver_match = match
        return match


def gateway_application(
    django_app: Any | None = None,
    *,
    prefix: str | tuple[str, ...] = API_PREFIXES,
    middleware: Sequence[str] = DEFAULT_API_MIDDLEWARE,
    preload: bool = True,
) -> Any:
    """An ASGI application: ``prefix`` paths (one or a tuple) through :class:`LeanASGIHandler`,
    everything else through ``django_app`` (the project's ordinary handler). With ``preload``,
    the configured providers' SDKs are imported now rather than inside the first request's
    event loop."""
    full = django_app or get_asgi_application()
    lean = LeanASGIHandler(middleware)
    if preload:
        from ai.services.factory import preload_providers

        preload_providers()

    async def application(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(prefix):
            await lean(scope, receive, send)
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)
        else:
            await full(scope, receive, send)

    return application


async def lifespan(receive: Any, send: Any) -> None:
    """ASGI lifespan (Django's handler has none): at shutdown, close the providers' connection
    pools and write the usage events still queued."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def startup() -> None:
    """Load now what the first request would (the URLconf with every view, the JWT backend),
    then, with ``AI_GC_FREEZE``, freeze what is alive.

    Django, DRF and three vendor SDKs leave about a million long-lived objects, and every full
    (generation 2) collection walks all of them: measured in-process, 11 collections of ~155 ms
    in 10,000 requests, a quarter of the gateway's CPU and its p99 latency at c=50.
    ``gc.freeze()`` moves them to the permanent generation, which collections skip: 690 ->
    558 µs of CPU per request, pauses ~20 ms. Objects made later are collected as usual.
    """
    from ai.conf import ai_settings

    get_resolver().url_patterns  # noqa: B018  (imports the URLconf and every view)
    import rest_framework_simplejwt.state  # noqa: F401  (the token backend: jwt, its crypto)

    if ai_settings.AI_GC_FREEZE:
        gc.collect()
        gc.freeze()


async def shutdown() -> None:
    from ai.services.factory import aclose_providers
    from ai.usage import flush_usage

    try:
        await aclose_providers()
    finally:
        await flush_usage(timeout=10)
