"""Async-native middleware for the gateway's lean API handler (see ``ai.asgi``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware


@sync_and_async_middleware
def allowed_hosts_middleware(get_response: Callable) -> Callable:
    """Validate the Host header against ALLOWED_HOSTS (CommonMiddleware's job in a full stack);
    ``DisallowedHost`` becomes Django's 400."""

    if not hasattr(get_response, "__await__") and _is_async(get_response):

        async def middleware(request: HttpRequest) -> HttpResponseBase:
            request.get_host()
            return await get_response(request)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponseBase:
        request.get_host()
        return get_response(request)

    return sync_middleware


def _is_async(func: Callable[..., Awaitable] | Callable) -> bool:
    from asgiref.sync import iscoroutinefunction

    return iscoroutinefunction(func)
