"""The exact response cache: a non-streaming answer reused for an identical request.

Off unless ``AI_CACHE_TTL`` > 0. Then a non-streaming request is looked up when its temperature
is 0, or when it asks with the header ``x-ai-cache: use``; ``x-ai-cache: skip`` never looks up
nor stores. The key is the SHA-256 of a canonical JSON of what decides the answer:

- the messages (role and content), temperature and max_tokens;
- the complexity (after "auto" is classified) and the targets the request may use, in order:
  the route's or the named provider/model, *after* the API key's model list filtered them, so a
  key never gets an answer from a model it may not use, and a change of the routing table is a
  new key;
- the user's id, unless ``AI_CACHE_SHARED`` (then every caller with the same targets shares).

The value is the gateway's JSON answer (``gateway.complete``) without its ``id``: a hit gets the
request's own id, so no other request's id is ever shown. Only successful answers are stored;
errors never, streams never.

Storage is the Django cache ``AI_CACHE_ALIAS``. The local-memory and dummy caches are read in
the event loop (no I/O); any other backend (Redis, Memcached, database) in a worker thread, never
blocking the loop. A cache failure is logged (at most once a minute) and the request goes on as
a miss.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed

from ai.conf import ai_settings

# The gateway's logger (ai.redact protects it: a cache error may name its URL).
logger = logging.getLogger("ai.api")

PREFIX = "ai:resp:"
#: The request header: ``use`` (look up whatever the temperature) or ``skip`` (never). The
#: response carries the same header name with ``hit`` or ``miss``.
HEADER = "x-ai-cache"
USE, SKIP = "use", "skip"
HIT, MISS = "hit", "miss"
#: A hit's ``upstream_request_id`` in the ledger (which has no column of its own for it).
HIT_MARKER = "cache-hit"

#: The backend of AI_CACHE_ALIAS and whether it is read in the loop ("memory") or a thread.
_setup: tuple[Any, bool] | None = None
_failed_at = 0.0


def reset() -> None:
    global _setup
    _setup = None


def _settings_changed(*, setting: str, **_: Any) -> None:
    if setting in ("CACHES", "AI_CACHE_ALIAS"):
        reset()


setting_changed.connect(_settings_changed, dispatch_uid="ai.response_cache.settings")


def _backend() -> tuple[Any, bool]:
    global _setup
    setup = _setup
    if setup is None:
        # One backend per process (``caches[alias]`` is per async context).
        backend = caches.create_connection(ai_settings.AI_CACHE_ALIAS)
        setup = _setup = (backend, isinstance(backend, LocMemCache | DummyCache))
    return setup


def ttl() -> int:
    """Seconds an answer is kept; 0 (the default) turns the cache off."""
    return max(0, int(ai_settings.AI_CACHE_TTL or 0))


def key_for(call: Any, targets: Sequence[Any], user_id: int | None, mode: str | None) -> str | None:
    """The cache key of a non-streaming ``call`` that may use ``targets``, or None when it is
    not to be cached (cache off, opted out, temperature not 0 without ``use``, or no user to
    keep answers apart when they are per user)."""
    if mode == SKIP or call.stream or not ttl():
        return None
    if mode != USE and call.temperature != 0:
        return None
    shared = bool(ai_settings.AI_CACHE_SHARED)
    if not shared and user_id is None:
        return None
    canonical = orjson.dumps(
        [
            [m.canonical() for m in call.messages],
            call.options.canonical(),
            [[t.provider, t.model] for t in targets],
            call.complexity.value if call.complexity is not None else None,
            call.temperature,
            call.max_tokens,
            None if shared else user_id,
        ]
    )
    return PREFIX + hashlib.sha256(canonical).hexdigest()


def _log_failure(what: str) -> None:
    global _failed_at
    now = time.monotonic()
    if now - _failed_at > 60:
        _failed_at = now
        logger.warning(
            "could not %s the response cache %r; requests are answered upstream",
            what,
            ai_settings.AI_CACHE_ALIAS,
            exc_info=True,
        )


async def lookup(key: str) -> dict[str, Any] | None:
    """The stored answer under ``key`` (without an ``id``), or None."""
    try:
        backend, in_loop = _backend()
        if in_loop:
            value = backend.get(key)
        else:
            value = await sync_to_async(backend.get, thread_sensitive=False)(key)
    except asyncio.CancelledError:
        raise
    except Exception:
        _log_failure("read")
        return None
    return value if isinstance(value, dict) else None


async def store(key: str, body: dict[str, Any]) -> None:
    """Keep a successful answer under ``key`` for ``AI_CACHE_TTL`` seconds (its ``id`` left
    out)."""
    value = {name: item for name, item in body.items() if name != "id"}
    try:
        backend, in_loop = _backend()
        if in_loop:
            backend.set(key, value, ttl())
        else:
            await sync_to_async(backend.set, thread_sensitive=False)(key, value, ttl())
    except asyncio.CancelledError:
        raise
    except Exception:
        _log_failure("write")


def apply_header(response: Any, outcome: Any) -> Any:
    """``x-ai-cache: hit|miss`` on a JSON answer when the cache is on."""
    if outcome.cache:
        response[HEADER] = outcome.cache
    return response
