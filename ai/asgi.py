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

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler

DEFAULT_API_MIDDLEWARE = ("ai.middleware.allowed_hosts_middleware",)


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler with its own middleware list instead of ``settings.MIDDLEWARE``."""

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


def gateway_application(
    django_app: Any | None = None,
    *,
    prefix: str = "/api/v1/app/ai/",
    middleware: Sequence[str] = DEFAULT_API_MIDDLEWARE,
    preload: bool = True,
) -> Any:
    """An ASGI application: ``prefix`` paths through :class:`LeanASGIHandler`, everything else
    through ``django_app`` (the project's ordinary handler). With ``preload``, the configured
    providers' SDKs are imported now rather than inside the first request's event loop."""
    full = django_app or get_asgi_application()
    lean = LeanASGIHandler(middleware)
    if preload:
        from ai.services.factory import preload_providers

        preload_providers()

    async def application(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(prefix):
            await lean(scope, receive, send)
        else:
            await full(scope, receive, send)

    return application
