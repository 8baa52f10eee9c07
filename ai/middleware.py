"""Middleware for the gateway's lean API handler (``AI_API_MIDDLEWARE``, see :mod:`ai.asgi`).

:func:`allowed_hosts_middleware` validates the Host header and nothing else. The ``OnLoop*``
classes run one of Django's pure middlewares (they only read the request and set headers or
wrap the body: no I/O, no database, no thread-local state) through its public
``process_request`` / ``process_response`` hooks, in the event loop. Django would run each of
them through ``sync_to_async``: two thread hops per middleware and request. The lean handler
substitutes them for the Django paths in :data:`ON_LOOP`; the host lists Django's own paths.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware
from django.utils.module_loading import import_string


@sync_and_async_middleware
def allowed_hosts_middleware(get_response: Callable) -> Callable:
    """Validate the Host header against ALLOWED_HOSTS (CommonMiddleware's job in a full stack);
    ``DisallowedHost`` becomes Django's 400."""

    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponseBase:
            request.get_host()
            return await get_response(request)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponseBase:
        request.get_host()
        return get_response(request)

    return sync_middleware


class OnLoopMiddleware:
    """Async-only middleware that calls :attr:`wrapped`'s hooks directly, as
    ``MiddlewareMixin.__call__`` does: ``process_request`` (a response from it short-cuts the
    view), the rest of the chain, then ``process_response``."""

    sync_capable = False
    async_capable = True
    #: Dotted path of the Django ``MiddlewareMixin`` middleware whose hooks are called.
    wrapped: ClassVar[str]

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        inner = import_string(self.wrapped)(get_response)
        self.process_request: Callable[..., Any] | None = getattr(inner, "process_request", None)
        self.process_response: Callable[..., Any] | None = getattr(inner, "process_response", None)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if self.process_request else None
        if response is None:
            response = await self.get_response(request)
        if self.process_response:
            response = self.process_response(request, response)
        return response


class OnLoopSecurityMiddleware(OnLoopMiddleware):
    wrapped = "django.middleware.security.SecurityMiddleware"


class OnLoopXFrameOptionsMiddleware(OnLoopMiddleware):
    wrapped = "django.middleware.clickjacking.XFrameOptionsMiddleware"


class OnLoopCommonMiddleware(OnLoopMiddleware):
    wrapped = "django.middleware.common.CommonMiddleware"


class OnLoopGZipMiddleware(OnLoopMiddleware):
    wrapped = "django.middleware.gzip.GZipMiddleware"


#: Django middleware path -> its on-loop stand-in. Only middlewares whose hooks do no I/O and
#: that define no ``process_view`` / ``process_exception`` / ``process_template_response``.
ON_LOOP: dict[str, str] = {
    cls.wrapped: f"{__name__}.{cls.__name__}"
    for cls in (
        OnLoopSecurityMiddleware,
        OnLoopXFrameOptionsMiddleware,
        OnLoopCommonMiddleware,
        OnLoopGZipMiddleware,
    )
}
