"""Gateway API keys as a DRF authentication, on the event loop, refused on their next request in
every process once revoked or expired.

A key comes as ``Authorization: Bearer aig_...`` (a bearer value not starting with ``aig_`` is
left to the JWT authentication), or, when there is no ``Authorization`` header, as
``x-api-key`` (Anthropic's SDKs) or ``x-goog-api-key`` (Google's).

The key is looked up by its SHA-256 (``ai.keys.hash_key``). Each process keeps the keys it has
looked up, with their owner, and with the owner's *revocation marker* read from Django's cache
(``AI_AUTH_CACHE``) before the lookup: the marker the JWT path uses (``ai.api.revocation``),
rewritten when the user is saved or deleted *and* when one of their keys is (receivers
connected in ``ai.models``). Every request checks that one marker (one cache read, as for a
JWT, or inside the admission script on the upstream endpoints: ``ai.deferred``) and looks the
key up again (``ai.db.run_db``) when it changed or is missing. Expiry is checked
against the clock on every request.

So a key revoked (admin, ``ai_keys revoke``, the API), given an earlier expiry, deleted, or
whose owner was deactivated, is refused on its next request (401 ``invalid_api_key``) in every
process that shares the cache.

``last_used_at`` is written in the background, at most once a minute per key and process
(``last_used_every_s``), with an ``UPDATE`` that sends no signal (so no marker changes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ai import deferred, keys
from ai.api import revocation
from ai.api.authentication import TTLCache, _snapshot
from ai.db import run_db
from ai.keys import KeyInfo
from ai.redact import RedactingFilter

logger = logging.getLogger("ai.auth")
logger.addFilter(RedactingFilter())

CODE = "invalid_api_key"
_KEY_LENGTH = len(keys.KEY_PREFIX) + keys.PREFIX_CHARS + 1 + keys.SECRET_CHARS

#: Key hash -> (owner's marker, KeyInfo, revoked, owner snapshot for Model.from_db).
_keys = TTLCache()
#: Key pk -> when (monotonic) this process last wrote its last_used_at.
_last_used: dict[int, float] = {}
_writes: set[asyncio.Task] = set()


def clear_key_cache() -> None:
    """Forget this process's cached keys (tests). To revoke a key everywhere, save it (after a
    ``QuerySet.update()``, call ``ai.api.revocation.revoke_user(owner_id)``)."""
    _keys.clear()
    _last_used.clear()


async def flush_last_used() -> None:
    """Wait for the pending ``last_used_at`` writes (tests, shutdown)."""
    while _writes:
        await asyncio.gather(*list(_writes), return_exceptions=True)


def _refuse(message: str) -> AuthenticationFailed:
    return AuthenticationFailed(message, code=CODE)


def credential(request: Request) -> str | None:
    """The key the request carries, or None when it carries none (or a JWT)."""
    meta = request.META
    header = meta.get("HTTP_AUTHORIZATION")
    if header:
        parts = header.split()
        if len(parts) == 2 and parts[0].lower() == "bearer" and keys.is_key(parts[1]):
            return parts[1]
        return None  # a JWT, or another scheme: not ours
    value = (meta.get("HTTP_X_API_KEY") or meta.get("HTTP_X_GOOG_API_KEY") or "").strip()
    # Anything that is not a gateway key there is a JWT (ai.api.authentication reads it).
    return value if value and keys.is_key(value) else None


def _well_formed(raw: str) -> bool:
    return len(raw) == _KEY_LENGTH and keys.is_key(raw) and raw[len(keys.KEY_PREFIX) :].isascii()


def _owner_of(digest: str) -> tuple[Any] | None:
    from ai.models import ApiKey

    return ApiKey.objects.filter(secret_hash=digest).values_list("owner_id").first()


def _load(digest: str) -> tuple[KeyInfo, bool, tuple[str, list[str], list[Any]]] | None:
    from ai.models import ApiKey

    key = ApiKey.objects.select_related("owner").filter(secret_hash=digest).first()
    if key is None:
        return None
    return KeyInfo.of(key), key.revoked_at is not None, _snapshot(key.owner)


def _write_last_used(pk: int, when: Any) -> None:
    from ai.models import ApiKey

    ApiKey.objects.filter(pk=pk).update(last_used_at=when)


def _written(task: asyncio.Task) -> None:
    _writes.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("could not record an API key's last use", exc_info=task.exception())


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates gateway API keys: ``request.user`` is the key's owner, ``request.auth``
    the key (:class:`ai.keys.KeyInfo`). Returns None (next authenticator) when the request
    carries no key."""

    www_authenticate_realm = "api"
    #: How long a looked-up key stays in this process's memory (not a revocation delay: its
    #: owner's marker is read on every request).
    cache_seconds: float = 300.0
    #: At most one ``last_used_at`` write per key and process in this many seconds.
    last_used_every_s: float = 60.0

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'

    async def aauthenticate(self, request: Request) -> tuple[Any, KeyInfo] | None:
        raw = credential(request)
        if raw is None:
            return None
        if not _well_formed(raw):
            raise _refuse("Invalid API key.")
        digest = keys.hash_key(raw)
        entry = _keys.get(digest)
        if entry is None:
            found = await run_db(_owner_of, digest)
            if found is None:
                raise _refuse("Invalid API key.")
            owner_id = found[0]
        else:
            owner_id = entry[1].owner_id
        # Read before the lookup, kept with what the lookup finds: a change after this read
        # writes a newer marker, which the next request sees. With a cached key, a view that
        # confirms later lets the read wait for the admission's round trip (ai.api.revocation).
        if entry is not None and revocation.defer(str(owner_id), entry[0]):
            marker = entry[0]
        else:
            marker = await revocation.aread(str(owner_id))
        if entry is None or marker is None or marker != entry[0]:
            loaded = await run_db(_load, digest)
            if loaded is None:
                _keys.discard(digest)
                raise _refuse("Invalid API key.")
            entry = (marker, *loaded)
            # Not kept when the key changed hands meanwhile: the marker read is the old owner's.
            if marker is not None and loaded[0].owner_id == owner_id:
                _keys.set(digest, entry, self.cache_seconds)
        info, revoked, owner = entry[1], entry[2], entry[3]
        if revoked:
            raise _refuse(f"API key {info.prefix} has been revoked.")
        if info.expired(timezone.now()):
            raise _refuse(f"API key {info.prefix} has expired.")
        user = get_user_model().from_db(*owner)
        if not user.is_active:
            raise _refuse(f"The owner of API key {info.prefix} is inactive.")
        pk = info.pk
        deferred.when_confirmed(lambda: self._touch(pk))  # not for a key refused after all
        return user, info

    def authenticate(self, request: Request) -> tuple[Any, KeyInfo] | None:
        """The sync path, for a host's sync views: one database read, no process cache."""
        raw = credential(request)
        if raw is None:
            return None
        loaded = _load(keys.hash_key(raw)) if _well_formed(raw) else None
        if loaded is None:
            raise _refuse("Invalid API key.")
        info, revoked, owner = loaded
        user = get_user_model().from_db(*owner)
        if revoked or info.expired(timezone.now()) or not user.is_active:
            raise _refuse(f"API key {info.prefix} is revoked, expired or its owner inactive.")
        return user, info

    def _touch(self, pk: int) -> None:
        now = time.monotonic()
        last = _last_used.get(pk)
        if last is not None and now - last < self.last_used_every_s:
            return
        _last_used[pk] = now
        task = asyncio.get_running_loop().create_task(run_db(_write_last_used, pk, timezone.now()))
        _writes.add(task)
        task.add_done_callback(_written)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in ("AUTH_USER_MODEL", "CACHES", "AI_AUTH_CACHE"):
        clear_key_cache()


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents :class:`ApiKeyAuthentication`: any one of its three headers."""

    target_class = ApiKeyAuthentication
    name = ["apiKeyBearer", "apiKeyHeader", "googApiKeyHeader"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        about = "A gateway API key, aig_...: "
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": about + "Authorization: Bearer <key> (OpenAI's SDKs).",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "x-api-key",
                "description": about + "x-api-key (Anthropic's SDKs).",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "x-goog-api-key",
                "description": about + "x-goog-api-key (Google's SDKs).",
            },
        ]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{name: []} for name in self.name]  # any one of them
