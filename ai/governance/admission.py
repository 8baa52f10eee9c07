"""Admit a request before its upstream call, settle it after: rate limits and budgets together in
one store call each (one Redis round trip before, one after).

:func:`admit` (``ai.services.gateway``, once the targets are known and before the first upstream
attempt) takes a request from every rpm bucket, its token estimate from every tpm bucket and its
worst-case cost from every budget that applies, all or nothing, or raises
:class:`~ai.exceptions.RateLimitExceeded` (429) / :class:`~ai.exceptions.BudgetExceeded` (402).
:func:`settle` (the gateway's ``finally``: success, failure and disconnect alike) corrects the
token buckets by the real usage and moves the reservation to the real cost. Retries and fallback
attempts belong to the one admitted request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed

from ai import deferred, metrics
from ai.conf import ai_settings
from ai.exceptions import BudgetExceeded, LimitsUnavailable, RateLimitExceeded
from ai.governance.budgets import period, prompt_bound, to_nano, to_usd, worst_case_nano
from ai.governance.memory import (
    OVER_BUDGET,
    RATE_LIMITED,
    STALE,
    Bucket,
    Budget,
    MemoryStore,
    Verdict,
)
from ai.governance.policy import (
    Caller,
    Limits,
    current_caller,
    default_limits,
    forget_override,
    user_limits,
)
from ai.governance.redis_store import RedisStore
from ai.providers import reasoning
from ai.providers.base import estimate_tokens
from ai.redis_clients import is_django_redis
from ai.usage import pricing

logger = logging.getLogger("ai.governance")

PREFIX = "ai:gov:"
REQUESTS, TOKENS = "requests", "tokens"


@dataclass(frozen=True, slots=True)
class _Config:
    """The settings admission reads on every request, read once (again after any settings
    change: ``override_settings`` in tests)."""

    store: MemoryStore | RedisStore
    defaults: Limits
    default_max_tokens: int


_config: _Config | None = None
_store: tuple[str, MemoryStore | RedisStore] | None = None
_failed_at = 0.0


def _configured() -> _Config:
    global _config, _store
    config = _config
    if config is None:
        alias = ai_settings.AI_LIMITS_CACHE
        if _store is None or _store[0] != alias:
            backend = caches.create_connection(alias)
            store = RedisStore(backend, alias) if is_django_redis(backend) else MemoryStore()
            _store = (alias, store)
        config = _config = _Config(
            _store[1], default_limits(), int(ai_settings.AI_BUDGET_DEFAULT_MAX_TOKENS)
        )
    return config


def get_store() -> MemoryStore | RedisStore:
    """The store of ``AI_LIMITS_CACHE``: Redis (shared) or this process's memory."""
    return _configured().store


def shared() -> bool:
    """Whether the limits are counted across processes (the cache is Redis)."""
    return isinstance(get_store(), RedisStore)


def reset() -> None:
    """Forget the settings read, the store (the memory store's counts with it) and the cached
    user overrides."""
    global _config, _store
    _config = _store = None
    forget_override()


def _settings_changed(*, setting: str, **_: Any) -> None:
    global _config
    if setting in ("CACHES", "AI_LIMITS_CACHE"):
        reset()
    elif setting.startswith("AI_"):
        _config = None  # read the defaults again; the counts stay


setting_changed.connect(_settings_changed, dispatch_uid="ai.governance.settings")


@dataclass(slots=True)
class Admission:
    """What an admitted request holds until :func:`settle`."""

    store: MemoryStore | RedisStore
    #: ``(key, capacity)`` of each tpm bucket, charged ``token_estimate``.
    token_buckets: tuple[tuple[str, int], ...]
    token_estimate: int
    #: ``(key, ttl)`` of each budget, charged ``reserved`` nano-USD.
    budgets: tuple[tuple[str, int], ...]
    reserved: int
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False


@dataclass(frozen=True, slots=True)
class _Scope:
    kind: str  # "user" or "key"
    ident: str
    label: str
    limits: Limits


async def _scopes(caller: Caller, defaults: Limits) -> list[_Scope]:
    scopes = []
    if caller.user_id is not None:
        limits = await user_limits(caller.user_id, defaults)
        if limits:
            scopes.append(_Scope("user", str(caller.user_id), "the user", limits))
    if caller.key_id is not None and caller.key_limits:
        label = f"API key {caller.key_label}" if caller.key_label else "the API key"
        scopes.append(_Scope("key", str(caller.key_id), label, caller.key_limits))
    return scopes


def token_estimate(call: Any) -> int:
    """The tokens a request is charged before its call (its real usage corrects it after)."""
    prompt = sum(estimate_tokens(m.content) + 1 for m in call.messages)
    return prompt + (call.max_tokens or 0)


async def admit(call: Any, outcome: Any, targets: Sequence[Any]) -> None:
    """Count ``call`` against every limit and budget of its caller (``outcome.user_id`` and the
    request's API key), or raise. On success ``outcome.admission`` holds what :func:`settle`
    gives back."""
    config = _configured()
    caller = current_caller(outcome.user_id)
    scopes = await _scopes(caller, config.defaults)
    if not scopes:
        await deferred.confirm()  # a deferred revocation marker, before the upstream call
        return
    buckets: list[Bucket] = []
    bucket_info: list[tuple[str, _Scope]] = []
    budgets: list[Budget] = []
    budget_info: list[tuple[str, _Scope, datetime]] = []
    estimate = 0
    cost = 0
    now = None
    for scope in scopes:
        limits = scope.limits
        if limits.rpm is not None:
            buckets.append(Bucket(f"{PREFIX}rpm:{scope.kind}:{scope.ident}", limits.rpm, 1))
            bucket_info.append((REQUESTS, scope))
        if limits.tpm is not None:
            estimate = estimate or token_estimate(call)
            buckets.append(Bucket(f"{PREFIX}tpm:{scope.kind}:{scope.ident}", limits.tpm, estimate))
            bucket_info.append((TOKENS, scope))
        for kind, limit in (("daily", limits.daily_usd), ("monthly", limits.monthly_usd)):
            if limit is None:
                continue
            if now is None:
                now = time.time()
                book = await pricing.aget_price_book()
                pairs = [(t.provider, t.model) for t in targets]
                completion = call.max_tokens
                if completion is None:
                    # Unbounded: the configured cap, and a thinking budget on top of it (what
                    # a Claude request without max_tokens is given room for).
                    thinking = reasoning.budget(call.options.reasoning_effort) or 0
                    completion = config.default_max_tokens + thinking
                cost = worst_case_nano(book, pairs, prompt_bound(call.messages), completion)
            suffix, resets = period(kind, now)
            ttl = int(resets.timestamp() - now) + 86_400
            key = f"{PREFIX}spend:{scope.kind}:{scope.ident}:{suffix}"
            budgets.append(Budget(key, to_nano(limit), cost, ttl))
            budget_info.append((kind, scope, resets))

    store = config.store
    # A revocation marker the authentication deferred is checked by the same script, when it
    # is on the same server: one round trip for both.
    marker = None
    pending = deferred.pending()
    if pending is not None:
        if isinstance(store, RedisStore) and store.server == pending.server:
            marker = (pending.name, pending.marker)
        else:
            await deferred.confirm()
    try:
        if marker is None:
            verdict = await store.admit(buckets, budgets)
        else:
            verdict = await store.admit(buckets, budgets, marker)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        _log_failure("check")
        raise LimitsUnavailable() from exc
    if verdict.status == STALE:
        raise deferred.stale()
    if marker is not None:
        deferred.confirmed()
    headers = _headers(buckets, bucket_info, verdict)
    if verdict.status == RATE_LIMITED:
        bucket = buckets[verdict.failed - 1]
        what, scope = bucket_info[verdict.failed - 1]
        retry = verdict.retry_ms / 1000
        needs = f" (this request counts about {bucket.cost})" if what == TOKENS else ""
        metrics.refused("rate_limit", what, scope.kind)
        raise RateLimitExceeded(
            f"Rate limit exceeded: {bucket.capacity} {what} per minute for {scope.label}"
            f"{needs}. Retry in {max(1, math.ceil(retry))} s.",
            retry_after=retry,
            headers={**headers, "Retry-After": str(max(1, math.ceil(retry)))},
        )
    if verdict.status == OVER_BUDGET:
        budget = budgets[verdict.failed - 1]
        kind, scope, resets = budget_info[verdict.failed - 1]
        metrics.refused("budget", kind, scope.kind)
        raise BudgetExceeded(
            f"Budget exceeded: the {kind} budget of {to_usd(budget.limit)} USD for "
            f"{scope.label} has {to_usd(verdict.spent)} USD spent and "
            f"{to_usd(verdict.reserved)} USD reserved by requests in flight; this request may "
            f"cost up to {to_usd(budget.cost)} USD. It resets at "
            f"{resets.strftime('%Y-%m-%dT%H:%M:%SZ')}."
        )
    outcome.admission = Admission(
        store=store,
        token_buckets=tuple(
            (b.key, b.capacity)
            for b, (what, _) in zip(buckets, bucket_info, strict=True)
            if what == TOKENS
        ),
        token_estimate=estimate,
        budgets=tuple((b.key, b.ttl) for b in budgets),
        reserved=cost,
        headers=headers,
    )


def _headers(
    buckets: Sequence[Bucket], info: Sequence[tuple[str, _Scope]], verdict: Verdict
) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` trios, for the limit of each kind closest to refusing."""
    tightest: dict[str, tuple[int, int, int]] = {}
    for bucket, (what, _), (remaining, reset_ms) in zip(
        buckets, info, verdict.buckets, strict=True
    ):
        current = tightest.get(what)
        if current is None or remaining < current[0]:
            tightest[what] = (remaining, reset_ms, bucket.capacity)
    headers = {}
    for what, (remaining, reset_ms, capacity) in tightest.items():
        headers[f"x-ratelimit-limit-{what}"] = str(capacity)
        headers[f"x-ratelimit-remaining-{what}"] = str(remaining)
        headers[f"x-ratelimit-reset-{what}"] = duration(reset_ms)
    return headers


def duration(ms: int) -> str:
    """A duration as OpenAI writes its reset headers: ``"120ms"``, ``"6s"``, ``"1m30s"``."""
    if ms < 1000:
        return f"{max(0, ms)}ms"
    minutes, seconds = divmod(ms / 1000, 60)
    text = f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def headers_of(outcome: Any) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers of an admitted request (empty when no limit applied)."""
    admission = getattr(outcome, "admission", None)
    return admission.headers if admission is not None else {}


def apply_headers(response: Any, outcome: Any) -> Any:
    for name, value in headers_of(outcome).items():
        response[name] = value
    return response


async def _spent_nano(outcome: Any) -> int:
    cost = outcome.cost
    if cost is None and outcome.usage is not None and outcome.provider:
        try:
            book = await pricing.aget_price_book()
            cost, _ = book.cost_with_fallback(
                outcome.provider, outcome.model, outcome.usage, None, outcome.requested_model
            )
        except Exception:
            logger.exception("could not price %s/%s", outcome.provider, outcome.model)
    return 0 if cost is None else to_nano(cost)


async def settle(outcome: Any) -> None:
    """Give back what :func:`admit` took beyond the real usage and cost (at most once; a no-op
    for a request that was not admitted). Never raises for a store failure: it is logged, and
    the reservation then stays counted until its period ends."""
    admission = getattr(outcome, "admission", None)
    if admission is None or admission.settled:
        return
    admission.settled = True
    corrections: list[tuple[str, int, int]] = []
    if admission.token_buckets:
        real = outcome.usage.total_tokens if outcome.usage is not None else 0
        refund = admission.token_estimate - real
        if refund:
            corrections = [(key, capacity, refund) for key, capacity in admission.token_buckets]
    settlements: list[tuple[str, int, int, int]] = []
    if admission.budgets:
        spent = await _spent_nano(outcome)
        settlements = [(key, admission.reserved, spent, ttl) for key, ttl in admission.budgets]
    if not corrections and not settlements:
        return
    store = admission.store
    try:
        if isinstance(store, MemoryStore):
            store.settle_now(corrections, settlements)
        else:  # Redis, off the request path: a request waits for one round trip, its admission
            store.settle_soon(corrections, settlements, lambda: _log_failure("settle"))
    except asyncio.CancelledError:
        raise
    except Exception:
        _log_failure("settle")


def _log_failure(what: str) -> None:
    global _failed_at
    now = time.monotonic()
    if now - _failed_at > 60:
        _failed_at = now
        logger.error(
            "could not %s rate limits and budgets in the %r cache",
            what,
            ai_settings.AI_LIMITS_CACHE,
            exc_info=True,
        )
