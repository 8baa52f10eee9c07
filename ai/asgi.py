"""The gateway's ASGI entry point: the project's own handler, with an opt-in fast path.

::

    # asgi.py
    import os
    from django.core.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
    django_app = get_asgi_application()
    from ai.asgi import gateway_application  # after Django is set up
    application = gateway_application(django_app)

By default every request, the gateway's included, goes through ``django_app``: the host's
``MIDDLEWARE``, its request signals, everything as Django does it. :func:`gateway_application`
adds the ASGI lifespan (startup preloading, a clean shutdown).

With ``AI_API_MIDDLEWARE = [...]`` (middleware paths) the host opts into a fast path: a request
whose URL resolves (with the project's URLconf, wherever ``ai.urls`` is included) to one of the
app's own views goes through :class:`LeanASGIHandler`, with exactly that middleware list and no
per-request thread-sensitive context; every other request still goes through ``django_app``.
``python manage.py check`` names the host middleware the fast path would skip (``ai.W010``).
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.asgi import get_asgi_application
from django.core.cache import close_caches
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, reset_queries
from django.dispatch import Signal
from django.http import HttpResponseBase
from django.urls import Resolver404, ResolverMatch, URLResolver, get_resolver, set_urlconf

from ai._compat import django as compat
from ai.conf import ai_settings, gc_thresholds
from ai.middleware import ON_LOOP

logger = logging.getLogger("ai.asgi")

#: Django's receivers of request_started / request_finished that tidy the *current thread's*
#: database connections. The event loop's thread has none (the gateway's database work runs in
#: ai.db's pool threads, which tidy their own), so when they are a signal's only sync receivers
#: the lean handler skips them and the thread hop they would cost.
LOOP_THREAD_NOOPS = frozenset({close_old_connections, reset_queries})
#: Django's own receivers of request_finished that do no blocking work and act on the request's
#: context (its urlconf, its cache clients): called in the loop, in the request's context.
LOOP_SAFE = frozenset({close_caches, reset_urlconf})


async def send_signal(signal: Signal, sender: Any, **named: Any) -> None:
    """Send a request signal from the event loop, each receiver where it expects to run.

    If any sync receiver other than Django's own (:data:`LOOP_THREAD_NOOPS`,
    :data:`LOOP_SAFE`) is connected (a host's audit or tenant receiver, say), the signal goes
    through Django's ``asend``: all sync receivers together in a thread, async ones awaited,
    exactly as Django's handler sends it. Otherwise there is no thread hop: the no-ops are
    skipped, :data:`LOOP_SAFE` ones called in the loop, async ones awaited."""
    if not signal.receivers:
        return
    receivers = compat.live_receivers(signal, sender)
    if receivers is None:
        await signal.asend(sender=sender, **named)
        return
    sync_receivers, async_receivers = receivers
    inline = []
    for receiver in sync_receivers:
        if receiver in LOOP_SAFE:
            inline.append(receiver)
        elif receiver not in LOOP_THREAD_NOOPS:
            await signal.asend(sender=sender, **named)
            return
    for receiver in inline:
        receiver(signal=signal, sender=sender, **named)
    for receiver in async_receivers:
        await receiver(signal=signal, sender=sender, **named)


def is_gateway_view(match: ResolverMatch) -> bool:
    """Whether a resolved URL is one of the app's own API views (``AsyncAPIView`` subclasses
    carry ``ai_gateway_view = True``)."""
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return bool(getattr(view_class, "ai_gateway_view", False))


@functools.lru_cache(maxsize=1024)
def _resolve(resolver: URLResolver, path: str) -> ResolverMatch | None:
    # Keyed by the resolver object: a changed ROOT_URLCONF (or request.urlconf) is a new key.
    try:
        return resolver.resolve(path)
    except Resolver404:
        return None


def resolve_gateway_view(scope: dict) -> ResolverMatch | None:
    """The match of an HTTP request's path, if it is one of the app's views, from the
    project's root URLconf (a middleware that sets ``request.urlconf`` runs too late to count)."""
    script_name = get_script_prefix(scope)
    path = scope["path"]
    path_info = path.removeprefix(script_name) if script_name else path
    try:
        match = _resolve(get_resolver(), path_info)
    except Exception:  # a broken URLconf: the ordinary handler reports it
        return None
    return match if match is not None and is_gateway_view(match) else None


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler for the app's own views, with its own middleware list.

    Differences from Django's handler, each to save thread hops (about 0.3 ms each under load):

    * ``middleware`` instead of ``settings.MIDDLEWARE``; Django's pure middlewares in it run in
      the loop (``ai.middleware.ON_LOOP``);
    * no per-request ``ThreadSensitiveContext``: the host's sync middleware and sync request
      receivers run on asgiref's one shared sync thread rather than a thread per request;
    * request signals through :func:`send_signal`, the response closed on the loop.
    """

    def __init__(self, middleware: Sequence[str]) -> None:
        self.middleware = [ON_LOOP.get(path, path) for path in middleware]
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware reads settings.MIDDLEWARE: swap it only while building
        # the chain (once, when the application is built, before any request is served).
        saved = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = saved

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.serve(scope, receive, send)

    def serve(self, scope: dict, receive: Any, send: Any) -> Awaitable[None]:
        """What serves one HTTP request: ``ASGIHandler.__call__`` minus ThreadSensitiveContext
        (only http reaches this handler). Returned to be awaited by the caller: no coroutine of
        this method's stays between the server and the handler for a held stream's life."""
        if compat.HANDLE_OK:
            return compat.handle(
                self, scope, receive, send, send_signal=send_signal, close=self.close_response
            )
        return self.handle(scope, receive, send)

    async def close_response(self, response: HttpResponseBase) -> None:
        async def finished(sender: Any) -> None:
            await send_signal(signals.request_finished, sender)

        await compat.close_response(response, finished)

    def resolve_request(self, request: Any) -> Any:
        """BaseHandler.resolve_request, reusing the match the routing decision cached."""
        if hasattr(request, "urlconf"):
            set_urlconf(request.urlconf)
            resolver = get_resolver(request.urlconf)
        else:
            resolver = get_resolver()
        match = _resolve(resolver, request.path_info)
        if match is None:
            raise Resolver404({"path": request.path_info})
        request.resolver_match = match
        return match


def api_middleware() -> list[str] | None:
    """``AI_API_MIDDLEWARE``: None (every request through the project's handler) or the
    middleware list of the fast path."""
    value = ai_settings.AI_API_MIDDLEWARE
    return None if value is None else list(value)


def gateway_application(django_app: Any | None = None, *, preload: bool = True) -> Any:
    """The project's ASGI application (``django_app``, default ``get_asgi_application()``)
    with the ASGI lifespan, and with ``AI_API_MIDDLEWARE`` set the fast path for the app's
    views. With ``preload``, the configured providers' SDKs are imported now rather than inside
    the first request."""
    full = django_app or get_asgi_application()
    middleware = api_middleware()
    lean = LeanASGIHandler(middleware) if middleware is not None else None
    if preload:
        from ai.services.factory import preload_providers

        preload_providers()

    async def application(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        elif lean is not None and scope["type"] == "http" and resolve_gateway_view(scope):
            await lean.serve(scope, receive, send)
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
    """Load now what the first request would (the URLconf with every view, the JWT backend).
    With ``AI_GC_FREEZE = True`` (off by default: the heap is the host's), then move every
    object alive into the collector's permanent generation.

    Django, DRF and three vendor SDKs leave about a million long-lived objects, and every full
    (generation 2) collection walks all of them: measured in-process, 11 collections of ~155 ms
    in 10,000 requests. ``gc.freeze()`` makes collections skip them (690 -> 558 µs of CPU per
    request at the time, pauses ~20 ms). Objects made later are collected as usual.

    With ``AI_GC_THRESHOLDS`` (unset by default), then set the collector's thresholds: held
    streams keep ~160 tracked objects each for their whole life, and with Python's defaults
    every few seconds a full collection walks all of them.
    """
    get_resolver().url_patterns  # noqa: B018  (imports the URLconf and every view)
    import rest_framework_simplejwt.state  # noqa: F401  (the token backend: jwt, its crypto)

    if ai_settings.AI_GC_FREEZE:
        gc.collect()
        gc.freeze()
    if thresholds := gc_thresholds():
        gc.set_threshold(*thresholds)


async def shutdown() -> None:
    from ai import governance
    from ai.services.factory import aclose_providers
    from ai.usage import flush_usage

    try:
        # Settlements still in flight (rate-limit corrections, budget spend) reach the store
        # before its connections close.
        store = governance.get_store()
        await store.drain()
        if hasattr(store, "aclose"):
            await store.aclose()
    except Exception:
        logger.exception("could not drain the limits store at shutdown")
    try:
        await aclose_providers()
    finally:
        await flush_usage(timeout=10)
