"""JWT authentication that never blocks the event loop, with revocation seen on the next request
in every process.

simplejwt validates the token (CPU only). Verified tokens are cached per process (keyed by the
exact token string, never past its ``exp``): decoding and checking an HMAC signature costs about
100 µs a request, which matters at a thousand requests a second. The token cache says only that
the signature is good; whether its user may still use it is decided on every request:

- Each process keeps the users it has looked up, each with the *revocation marker* it read from
  Django's cache (``AI_AUTH_CACHE``, the ``default`` alias unless set) before looking the user
  up in the database.
- Saving or deleting a user (``save()``, ``delete()``, the admin, ``changepassword``, in any
  process with the app installed: the receivers are connected at startup) writes a new random
  marker for that user through ``post_save``/``post_delete``, at once and again after the
  transaction commits.
- Every request checks the user's marker (one cache read, never blocking the loop: see
  :mod:`ai.api.revocation`; on the upstream endpoints with Redis, inside the admission script:
  :mod:`ai.deferred`). A marker that differs from the one the process saw, or no marker
  at all, means a fresh database lookup (in the thread pool, ``ai.db.run_db``) before the
  active flag and the password hash are checked again.

So a user deactivated, deleted or given a new password is refused on their next request, in
every process that shares the cache. ``QuerySet.update()`` and raw SQL send no signal: call
:func:`revoke_user` (or :func:`arevoke_user`) after them. With the local-memory cache the marker
only reaches this process: run more than one process with a shared cache (Redis, Memcached).
If the cache fails, the user is looked up in the database on every request until it is back.

Every request gets its own user object, built from the cached field values with Django's
``Model.from_db`` (as a queryset builds one): code that sets an attribute on ``request.user``
does not change another request's. (Field values themselves are shared: a mutable one, such as
a ``JSONField`` dict on a custom user model, must be copied before it is changed in place.)
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import router
from django.dispatch import receiver
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from ai import keys
from ai.api import revocation
from ai.api.revocation import arevoke_user, revoke_user
from ai.db import run_db

__all__ = ["GatewayJWTAuthentication", "arevoke_user", "clear_auth_caches", "revoke_user"]


class TTLCache:
    """A bounded dict whose entries expire. Single-threaded use (one event loop) is assumed;
    concurrent use from threads is safe enough (worst case: a miss)."""

    def __init__(self, max_size: int = 10_000) -> None:
        self.max_size = max_size
        self._items: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable) -> Any | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def set(self, key: Hashable, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        if len(self._items) >= self.max_size:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] >= now}
            if len(self._items) >= self.max_size:
                self._items.clear()
        self._items[key] = (time.monotonic() + ttl, value)

    def discard(self, key: Hashable) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: User id as text -> (the marker read before the lookup, the database alias, the concrete
#: field names and values): each request builds its own user from them (``Model.from_db``).
_users = TTLCache()
_tokens = TTLCache()


def clear_auth_caches() -> None:
    """Forget this process's cached users and verified tokens (tests). To revoke a user in
    every process, use :func:`revoke_user`."""
    _users.clear()
    _tokens.clear()


def _snapshot(user: Any) -> tuple[str, list[str], list[Any]]:
    """``Model.from_db``'s arguments for ``user``: the database it was read from (as the
    queryset that read it chose it), the concrete fields and their values."""
    names = [field.attname for field in user._meta.concrete_fields]
    db = router.db_for_read(type(user), instance=user)
    return db, names, [getattr(user, name) for name in names]


class GatewayJWTAuthentication(JWTAuthentication):
    """simplejwt's ``JWTAuthentication`` with an async path (:meth:`aauthenticate`), used by the
    gateway's async views. The sync :meth:`authenticate` is simplejwt's own, for sync views."""

    #: How long a verified token, and a looked-up user, stay in this process's memory. Not a
    #: revocation delay: the user's marker is checked on every request (see the module).
    cache_seconds: float = 30.0

    def get_header(self, request: Request) -> bytes | None:
        """``Authorization``, else a JWT sent as ``x-api-key`` or ``x-goog-api-key`` (where the
        Anthropic and Google SDKs put their ``api_key``), read as a bearer token. A gateway API
        key in those headers is ``ai.api.key_auth``'s."""
        header = super().get_header(request)
        if header is None:
            meta = request.META
            value = (meta.get("HTTP_X_API_KEY") or meta.get("HTTP_X_GOOG_API_KEY") or "").strip()
            if value and not keys.is_key(value):
                return b"Bearer " + value.encode("latin-1")
        return header

    async def aauthenticate(self, request: Request) -> tuple[Any, Token] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self._validated_token(raw_token)
        return await self.aget_user(token), token

    def _validated_token(self, raw_token: bytes) -> Token:
        cached = _tokens.get(raw_token)
        if cached is not None:
            return cached
        token = self.get_validated_token(raw_token)
        exp = token.get("exp")
        ttl = self.cache_seconds if exp is None else min(self.cache_seconds, exp - time.time())
        _tokens.set(raw_token, token, ttl)
        return token

    async def aget_user(self, token: Token) -> Any:
        """The token's user, checked now (active, password unchanged), as an object of its own."""
        try:
            user_id = token[jwt_settings.USER_ID_CLAIM]
        except KeyError as err:
            raise InvalidToken("Token contained no recognizable user identification") from err
        # Keyed by the id as text: simplejwt writes str(user.pk) into the claim.
        key = str(user_id)
        entry = _users.get(key)
        model = get_user_model()
        # With a cached user, a view that confirms later lets the marker read wait for the
        # admission's round trip (ai.api.revocation); otherwise it is read now.
        if entry is None or not revocation.defer(key, entry[0]):
            marker = await revocation.aread(key)
            if entry is None or marker is None or entry[0] != marker:
                entry = None
        if entry is not None:
            # Each request its own object, built as a queryset would (Django's public hook).
            user = model.from_db(*entry[1])
        else:
            try:
                user = await run_db(model.objects.get, **{jwt_settings.USER_ID_FIELD: user_id})
            except model.DoesNotExist as err:
                raise AuthenticationFailed("User not found", code="user_not_found") from err
            except (TypeError, ValueError) as err:  # a user id of the wrong type in the token
                raise InvalidToken("Token contained no recognizable user identification") from err
            if marker is not None:
                _users.set(key, (marker, _snapshot(user)), self.cache_seconds)
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if jwt_settings.CHECK_REVOKE_TOKEN and token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )
        return user


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in ("SIMPLE_JWT", "SECRET_KEY", "AUTH_USER_MODEL", "CACHES", "AI_AUTH_CACHE"):
        revocation.reset()
        clear_auth_caches()
