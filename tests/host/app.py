"""The host's own code: a middleware that marks every response, an audit receiver that uses
the ORM on request_started (as audit or tenant code does), and a view of its own."""

from __future__ import annotations

import asyncio
import threading

from django.contrib.auth import get_user_model
from django.http import JsonResponse

HOST_HEADER = "X-Host-Middleware"

#: One entry per request_started: (ran with an event loop in its thread, users counted).
AUDIT: list[tuple[bool, int]] = []


class HostHeaderMiddleware:
    """A plain sync middleware, the kind most projects have."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response[HOST_HEADER] = "yes"
        return response


def audit_request(sender, **kwargs):
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    AUDIT.append((in_loop, get_user_model().objects.count()))


def whoami(request):
    """Needs AuthenticationMiddleware (request.user)."""
    return JsonResponse(
        {"user": request.user.get_username() or None, "thread": threading.current_thread().name}
    )
