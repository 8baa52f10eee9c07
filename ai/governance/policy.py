"""Which limits apply to a request: the defaults (``AI_DEFAULT_*``), a user's override
(:class:`ai.models.UserLimits`, admin) and the API key's own fields (:class:`ai.models.ApiKey`).

A user's limits are their override's fields, each one empty meaning the default; an exempt user
has none (the exemption is an explicit flag on the override, visible in admin: staff and
superusers are limited like everyone else). A key's limits are counted for that key on top of
its owner's: the stricter one refuses first.

Overrides are read from the database at most once per user every
:data:`OVERRIDES_CACHE_SECONDS` per process (at once in the process that saves one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models.signals import post_delete, post_save

from ai.conf import ai_settings
from ai.db import run_db
from ai.keys import current_key

#: How long a process trusts a user's override (or its absence), in seconds.
OVERRIDES_CACHE_SECONDS = 5.0
#: Users whose override a process keeps at most (then it starts again).
MAX_CACHED_USERS = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute rate limits and USD budgets; None is no limit."""

    rpm: int | None = None
    tpm: int | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.rpm, self.tpm, self.daily_usd, self.monthly_usd))


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request is counted against: its user and, for a key-authenticated request, the key
    (``key_label`` names it in error messages, never its secret)."""

    user_id: Any
    key_id: Any = None
    key_label: str = ""
    key_limits: Limits = NO_LIMITS


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def default_limits() -> Limits:
    return Limits(
        _count(ai_settings.AI_DEFAULT_RPM),
        _count(ai_settings.AI_DEFAULT_TPM),
        _money(ai_settings.AI_DEFAULT_DAILY_BUDGET_USD),
        _money(ai_settings.AI_DEFAULT_MONTHLY_BUDGET_USD),
    )


def key_limits(key: Any) -> Limits:
    """An API key's own limits (:class:`ai.keys.KeyInfo` or :class:`ai.models.ApiKey`)."""
    return Limits(
        _count(key.rpm),
        _count(key.tpm),
        _money(key.daily_budget_usd),
        _money(key.monthly_budget_usd),
    )


def current_caller(user_id: Any) -> Caller:
    """The :class:`Caller` of the request being served: ``user_id`` and the API key it came
    with (:func:`ai.keys.current_key`), if any."""
    key = current_key()
    if key is None:
        return Caller(user_id)
    return Caller(user_id, key.pk, key.prefix, key_limits(key))


# --- user overrides, cached per process ---------------------------------------------------------

#: The override row of an exempt user.
EXEMPT = object()
_overrides: dict[Any, tuple[Any, float]] = {}


def forget_override(user_id: Any = None, **_: Any) -> None:
    """Drop the cached override of ``user_id`` (all when None). Also a signal receiver."""
    if user_id is None:
        _overrides.clear()
    else:
        _overrides.pop(user_id, None)


def override_changed(*, instance: Any, **_: Any) -> None:
    forget_override(instance.user_id)


# A lazy sender ("app_label.Model"): this module never imports the models at import time.
post_save.connect(override_changed, sender="ai.UserLimits", dispatch_uid="ai.limits.saved")
post_delete.connect(override_changed, sender="ai.UserLimits", dispatch_uid="ai.limits.deleted")


def _load(user_id: Any) -> Any:
    from ai.models import UserLimits

    row = (
        UserLimits.objects.filter(user_id=user_id)
        .values_list("exempt", "rpm", "tpm", "daily_budget_usd", "monthly_budget_usd")
        .first()
    )
    if row is None:
        return None
    exempt, rpm, tpm, daily, monthly = row
    return EXEMPT if exempt else Limits(rpm, tpm, daily, monthly)


async def user_limits(user_id: Any, defaults: Limits) -> Limits | None:
    """The limits of ``user_id``: ``defaults`` (:func:`default_limits`), field by field replaced
    by the user's override; None for an exempt user."""
    cached = _overrides.get(user_id)
    if cached is not None and time.monotonic() < cached[1]:
        override = cached[0]
    else:
        override = await run_db(_load, user_id)
        if len(_overrides) >= MAX_CACHED_USERS:
            _overrides.clear()
        _overrides[user_id] = (override, time.monotonic() + OVERRIDES_CACHE_SECONDS)
    if override is EXEMPT:
        return None
    if override is None:
        return defaults
    return Limits(
        defaults.rpm if override.rpm is None else override.rpm,
        defaults.tpm if override.tpm is None else override.tpm,
        defaults.daily_usd if override.daily_usd is None else override.daily_usd,
        defaults.monthly_usd if override.monthly_usd is None else override.monthly_usd,
    )
