"""Database work from async code, without tying connections to short-lived threads.

Django's async ORM runs each query through ``sync_to_async(thread_sensitive=True)``: under an
ASGI request that is a thread made for that request, and a connection opened there is never
closed by ``request_finished`` when the request runs through :mod:`ai.asgi`'s lean handler.
:func:`run_db` runs a whole unit of ORM work in the shared thread pool instead, where each thread
keeps one connection and ``close_old_connections`` enforces ``CONN_MAX_AGE`` and drops broken
ones, as Django does around a sync request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

T = TypeVar("T")


def _in_pool_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def run_db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` (sync ORM code) in a pool thread, awaited."""
    return await sync_to_async(_in_pool_thread, thread_sensitive=False)(fn, *args, **kwargs)
