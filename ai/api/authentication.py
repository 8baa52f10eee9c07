"""JWT authentication that never blocks the event loop.

simplejwt validates the token (CPU only); the user comes from a small in-process cache, or on a
miss from a database lookup in the thread pool (``ai.db.run_db``). Verified tokens are cached
too (keyed by the exact token string, never past its ``exp``): decoding and checking an HMAC
signature costs about 100 µs a request, which matters at a thousand requests a second.

The caches are per process. A user saved or deleted in this process is evicted at once; a
change made in another process is seen within :attr:`GatewayJWTAuthentication.cache_seconds`
(a deactivated user keeps access that long at most).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from ai.db import run_db


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


_users = TTLCache()
_tokens = TTLCache()


def clear_auth_caches() -> None:
    """Forget cached users and verified tokens (tests, or after bulk user changes)."""
    _users.clear()
    _tokens.clear()


class GatewayJWTAuthentication(JWTAuthentication):
    """simplejwt's ``JWTAuthentication`` with an async path (:meth:`aauthenticate`), used by the
    gateway's async views. The sync :meth:`authenticate` is simplejwt's own, for sync views."""

    #: How long a looked-up user (and a verified token) is trusted without asking again.
    cache_seconds: float = 30.0

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
        try:
            user_id = token[jwt_settings.USER_ID_CLAIM]
        except KeyError as err:
            raise InvalidToken("Token contained no recognizable user identification") from err
        # Keyed by the id as text: simplejwt writes str(user.pk) into the claim.
        user = _users.get(str(user_id))
        if user is None:
            model = get_user_model()
            try:
                user = await run_db(model.objects.get, **{jwt_settings.USER_ID_FIELD: user_id})
            except model.DoesNotExist as err:
                raise AuthenticationFailed("User not found", code="user_not_found") from err
            except (TypeError, ValueError) as err:  # a user id of the wrong type in the token
                raise InvalidToken("Token contained no recognizable user identification") from err
            _users.set(str(user_id), user, self.cache_seconds)
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if jwt_settings.CHECK_REVOKE_TOKEN and token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )
        return user


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _user_changed(*, instance: Any, **kwargs: object) -> None:
    _users.discard(str(getattr(instance, jwt_settings.USER_ID_FIELD, None)))


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in ("SIMPLE_JWT", "SECRET_KEY", "AUTH_USER_MODEL"):
        clear_auth_caches()
