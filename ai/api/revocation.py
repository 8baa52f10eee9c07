"""Per-user revocation markers in Django's cache, shared by every process of the gateway.

Connected at startup (``AIConfig.ready``), so a user saved by any process with the app installed
(the admin, ``changepassword``, a worker) revokes: see :mod:`ai.api.authentication`.

A marker is a random integer stored under ``ai:auth:user:<id>`` (with the cache's own key prefix
and version) in the ``AI_AUTH_CACHE`` cache. Writing a new one (:func:`revoke`) tells every
process that what it knows about the user is stale; :func:`aread` returns the current one,
starting one when there is none (never written, or evicted: whoever adds first wins), or None
when the cache cannot answer.

Reading is on every authenticated request, so it avoids what would cost most:

- the local-memory and dummy caches are read in the event loop (no I/O);
- Django's Redis cache is read with redis-py's asyncio client on the same server (its first
  ``LOCATION``, where Django writes) and ``OPTIONS``, one client per event loop: no thread hop,
  and one ``MGET`` for all the requests that ask in the same turn of the loop. Django stores an
  integer as its decimal text, so both clients read the same value;
- any other cache (Memcached, database, file, a custom backend) is read in a worker thread.

**Deferred confirmation** (Redis only). A view that calls upstreams only through the gateway's
admission (``AsyncAPIView.defers_confirmation``: chat, the OpenAI/Anthropic/Responses surfaces,
embeddings) lets an authenticator that has the user in its process cache skip the read
(:func:`defer`): the request goes on with the cached user, and the marker is compared where the
request first touches Redis anyway, inside the admission script (``ai.governance``), so a
request pays one round trip instead of two. Where no admission script runs (no limits apply, an
error before admission, a token count) ``ai.deferred.confirm`` reads the marker before the
upstream call or the response. A marker that changed raises ``StaleCredentials`` before anything
has left the gateway; the view then authenticates again from the database and runs the request anew
(``ai.api.base``). Any other view reads the marker as the request is authenticated.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from ai import deferred, redis_clients
from ai.conf import ai_settings
from ai.redact import RedactingFilter

logger = logging.getLogger("ai.auth")
logger.addFilter(RedactingFilter())

PREFIX = "ai:auth:user:"


#: How reads happen with the configured cache: (backend, mode), mode "memory", "redis" or
#: "thread". Built on first use; dropped when CACHES or AI_AUTH_CACHE change (setting_changed).
_setup: tuple[Any, str] | None = None
_redis_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RedisReader] = (
    weakref.WeakKeyDictionary()
)
_failed_at = 0.0
#: The Redis server the markers are on (mode "redis"), for the admission script to compare.
_server = ""


def defer(user_id: str, marker: Any) -> bool:
    """Instead of reading ``user_id``'s marker now, trust ``marker`` (the one the caller's
    process cache was filled with) until the admission script or :func:`ai.deferred.confirm`
    checks it. False when this request cannot defer (then read it now)."""
    deferral = deferred.current()
    if deferral is None:
        return False
    backend, mode = _configured()
    if mode != "redis":
        return False
    deferral.name, deferral.marker = backend.make_key(key(user_id)), marker
    deferral.server = _server
    deferral.read = lambda: aread(user_id)
    return True


def reset() -> None:
    """Forget the cache setup (after a settings change)."""
    global _setup
    _setup = None
    _redis_readers.clear()


def _configured() -> tuple[Any, str]:
    global _setup, _server
    setup = _setup
    if setup is None:
        # One backend object per process: ``caches[alias]`` is per async context, and a new
        # Redis client per request would mean a new connection pool per request.
        backend = caches.create_connection(ai_settings.AI_AUTH_CACHE)
        if isinstance(backend, LocMemCache | DummyCache):
            mode = "memory"
        elif redis_clients.is_django_redis(backend):
            mode = "redis"
            _server = redis_clients.first_server(ai_settings.AI_AUTH_CACHE)
        else:
            mode = "thread"
        setup = _setup = (backend, mode)
    return setup


def key(user_id: object) -> str:
    return f"{PREFIX}{user_id}"


def _new_marker() -> int:
    return secrets.randbits(62)


def revoke(user_id: object) -> None:
    """Write a new marker for ``user_id`` (blocking: one cache write)."""
    backend, _ = _configured()
    backend.set(key(user_id), _new_marker(), timeout=None)


def revoke_user(user_id: object) -> None:
    """Make every process look ``user_id`` up again before its next request is let through
    (deactivation, password change, deletion). Called by ``post_save``/``post_delete``; call it
    yourself after ``QuerySet.update()``, ``bulk_update()`` or raw SQL on users. Blocking (one
    cache write): from async code use :func:`arevoke_user`. A cache failure is logged, not
    raised (the user's change itself has happened)."""
    try:
        revoke(user_id)
    except Exception:
        logger.exception(
            "could not publish the revocation of user %s to the %r cache: processes that "
            "cached the user keep it until their cache entry expires (30 s)",
            user_id,
            ai_settings.AI_AUTH_CACHE,
        )


async def arevoke_user(user_id: object) -> None:
    await sync_to_async(revoke_user, thread_sensitive=False)(user_id)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _user_changed(*, instance: Any, using: str, update_fields: Any = None, **kwargs: object):
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login changes nothing a token depends on
    user_id = getattr(instance, jwt_settings.USER_ID_FIELD, None)
    if user_id is None:
        return
    revoke_user(user_id)
    # Again once the change is visible to other connections: a process that read the first
    # marker and then the not-yet-committed row must not keep that row.
    transaction.on_commit(lambda: revoke_user(user_id), using=using, robust=True)


def read(user_id: object) -> Any:
    """The current marker (blocking), starting one when there is none."""
    backend, _ = _configured()
    name = key(user_id)
    marker = backend.get(name)
    if marker is None:
        backend.add(name, _new_marker(), timeout=None)
        marker = backend.get(name)
    return marker


class _RedisReader:
    """Reads markers with redis-py's asyncio client, one ``MGET`` for all the reads asked for
    in the same turn of the event loop: under load one round trip serves many requests, and
    each read is still sent after its request asked (never an answer older than the ask)."""

    def __init__(self) -> None:
        self.client = redis_clients.async_client(ai_settings.AI_AUTH_CACHE)
        self.pending: dict[str, list[asyncio.Future]] = {}
        self.flushes: set[asyncio.Task] = set()

    async def get(self, name: str) -> bytes | None:
        future = asyncio.get_running_loop().create_future()
        waiting = self.pending.get(name)
        if waiting is not None:
            waiting.append(future)
        else:
            self.pending[name] = [future]
            if len(self.pending) == 1:  # the first ask of this turn: flush once it ends
                task = asyncio.get_running_loop().create_task(self._flush())
                self.flushes.add(task)
                task.add_done_callback(self.flushes.discard)
        return await future

    async def _flush(self) -> None:
        batch, self.pending = self.pending, {}
        names = list(batch)
        try:
            values = await self.client.mget(names)
        except asyncio.CancelledError:
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        except Exception as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for name, value in zip(names, values, strict=True):
            for future in batch[name]:
                if not future.done():
                    future.set_result(value)

    async def read(self, name: str) -> int | None:
        raw = await self.get(name)
        if raw is None:
            await self.client.set(name, _new_marker(), nx=True)
            raw = await self.client.get(name)
        return None if raw is None else int(raw)  # not an integer: a custom serializer


def _redis_reader() -> _RedisReader:
    loop = asyncio.get_running_loop()
    reader = _redis_readers.get(loop)
    if reader is None:
        reader = _redis_readers[loop] = _RedisReader()
    return reader


async def aread(user_id: object) -> Any:
    """The current marker, or None when the cache cannot say (the caller must then ask the
    database). Never raises for a cache failure: logs it, at most once a minute."""
    global _failed_at
    try:
        backend, mode = _configured()
        if mode == "memory":
            return read(user_id)
        if mode == "redis":
            return await _redis_reader().read(backend.make_key(key(user_id)))
        return await sync_to_async(read, thread_sensitive=False)(user_id)
    except asyncio.CancelledError:
        raise
    except Exception:
        now = time.monotonic()
        if now - _failed_at > 60:
            _failed_at = now
            logger.warning(
                "the %r cache failed; users are looked up in the database on every request "
                "until it answers again",
                ai_settings.AI_AUTH_CACHE,
                exc_info=True,
            )
        return None
