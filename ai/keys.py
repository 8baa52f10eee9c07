"""Gateway API keys: their format, their hash, what a request's key allows.

A key is ``aig_<8 characters>_<40 characters>``: the first 12 characters (``aig_`` and the 8)
are its *prefix*, stored in clear to name the key in lists; the whole key is stored only as its
SHA-256 (:func:`hash_key`). The secret part carries about 238 random bits, so a plain SHA-256
is enough (nothing to brute-force, unlike a password) and the hash can be the lookup key.

The key a request came with is bound to the request's context by the API's authentication
(:func:`bind`); the gateway reads it (:func:`current_key`) to record it in the ledger and to
refuse a model the key does not allow (:func:`allowed_targets`) before any upstream call.
A leaf module: no models, no HTTP.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from ai.exceptions import AIError

KEY_PREFIX = "aig_"
PREFIX_CHARS = 8
SECRET_CHARS = 40
#: Lowercase letters and digits for the visible part (easy to read out), all 62 for the secret.
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
#: The routes a key may name in ``allowed_models`` (``ai.providers.base.ModelComplexity``).
ROUTES = ("simple", "moderate", "complex", "search")


class ModelNotAllowedError(AIError, PermissionError):
    """The request's API key does not allow the model (or none of its route's models)."""

    status_code = 403
    code = "model_not_allowed"
    default_message = "This API key does not allow that model."


def generate_key() -> tuple[str, str]:
    """A new ``(full key, prefix)``."""
    visible = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_CHARS))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_CHARS))
    prefix = f"{KEY_PREFIX}{visible}"
    return f"{prefix}_{secret}", prefix


def hash_key(full_key: str) -> str:
    """The stored form of a key: SHA-256 of the whole key, hex."""
    return hashlib.sha256(full_key.encode()).hexdigest()


def is_key(value: str) -> bool:
    """Whether a credential is meant as a gateway key (anything else in ``Bearer`` is a JWT)."""
    return value.startswith(KEY_PREFIX)


def clean_models(entries: Iterable[str]) -> list[str]:
    """``allowed_models`` entries stripped, empty ones dropped, duplicates removed. Raises
    ValueError naming an entry with whitespace inside."""
    out: list[str] = []
    for entry in entries:
        entry = str(entry).strip()
        if not entry:
            continue
        if any(c.isspace() for c in entry):
            raise ValueError(f"{entry!r}: a model, provider/model or route has no spaces.")
        if entry not in out:
            out.append(entry)
    return out


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a request needs to know of its key (a snapshot of the ``ApiKey`` row)."""

    pk: int
    prefix: str
    name: str
    owner_id: Any
    expires_at: datetime | None = None
    allowed_models: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    daily_budget_usd: Decimal | None = None
    monthly_budget_usd: Decimal | None = None

    @classmethod
    def of(cls, key: Any) -> KeyInfo:
        """From an ``ai.models.ApiKey``."""
        return cls(
            pk=key.pk,
            prefix=key.prefix,
            name=key.name,
            owner_id=key.owner_id,
            expires_at=key.expires_at,
            allowed_models=tuple(key.allowed_models or ()),
            rpm=key.rpm,
            tpm=key.tpm,
            daily_budget_usd=key.daily_budget_usd,
            monthly_budget_usd=key.monthly_budget_usd,
        )

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def permits(self, provider: str, model: str) -> bool:
        """Whether the key allows ``provider``'s ``model`` (routes aside)."""
        if not self.allowed_models:
            return True
        model = model.lower()
        provider = provider.lower()
        for entry in self.allowed_models:
            entry = entry.lower()
            if "/" in entry:
                want_provider, want_model = entry.split("/", 1)
                if want_provider == provider and want_model in ("*", model):
                    return True
            elif entry == model:
                return True
        return False


_current: ContextVar[KeyInfo | None] = ContextVar("ai_api_key", default=None)


def bind(key: KeyInfo | None) -> None:
    """Make ``key`` the current request's key (None: the request has none)."""
    _current.set(key)


def current_key() -> KeyInfo | None:
    """The key the request being served came with, or None (a JWT, or no request)."""
    return _current.get()


def current_key_id() -> int | None:
    key = _current.get()
    return None if key is None else key.pk


T = TypeVar("T")


def allowed_targets(
    key: KeyInfo | None, targets: Sequence[T], *, complexity: str | None, overridden: bool
) -> list[T]:
    """The targets (``ModelRoute``-like: ``.provider``, ``.model``) ``key`` lets the request
    use, in order. A routed request whose route the key names keeps them all; otherwise each
    target must be allowed itself. Raises :class:`ModelNotAllowedError` (403) naming the
    model, or the route and its models, when none is left."""
    if key is None or not key.allowed_models or not targets:
        return list(targets)
    names = {entry.lower() for entry in key.allowed_models}
    if complexity and not overridden and complexity.lower() in names:
        return list(targets)
    kept = [t for t in targets if key.permits(t.provider, t.model)]  # type: ignore[attr-defined]
    if kept:
        return kept
    allowed = ", ".join(key.allowed_models)
    if len(targets) == 1:
        target = targets[0]
        asked = f"{target.provider}/{target.model}"  # type: ignore[attr-defined]
        message = f"Model {asked!r} is not allowed for API key {key.prefix}. Allowed: {allowed}."
    else:
        listed = ", ".join(f"{t.provider}/{t.model}" for t in targets)  # type: ignore[attr-defined]
        message = (
            f"No model of route {complexity!r} ({listed}) is allowed for API key {key.prefix}. "
            f"Allowed: {allowed}."
        )
    first = targets[0] if targets else None
    raise ModelNotAllowedError(
        message,
        provider=getattr(first, "provider", None),
        model=getattr(first, "model", None),
    )
