"""Provider cooldown: a route target that keeps failing is skipped for a while, by every process.

A target (provider + model) that a request gave up on with a retryable error (rate limited,
timeout, dropped connection, 5xx; after its retries) counts one failure. ``AI_COOLDOWN_FAILURES``
failures within ``AI_COOLDOWN_WINDOW_SECONDS`` put it in cooldown for ``AI_COOLDOWN_SECONDS``:
the router then skips it on routes that have another target to try (see
:meth:`ai.services.router.LLMRouter.run`).

The state lives in the Django cache ``AI_COOLDOWN_CACHE`` (shared when that is Redis or
Memcached): one counter per failing target and one entry per cooled-down target, whose value is
``(failed_at, until)`` (epoch seconds) and which expires with it. Reads are cheap by design:
each process keeps a copy of the entries of the targets it has routed to, read again with one
``aget_many`` at most every :data:`REFRESH_SECONDS`, and only for a route of more than one
target; a single-target route (an explicit provider/model) is never skipped and never reads.
Writes happen on failures only. A cache that fails is logged and ignored: a request never fails
because of its cooldown bookkeeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from ai.conf import ai_settings

logger = logging.getLogger("ai.router")

#: How stale a process's copy of the cooldowns may get, in seconds.
REFRESH_SECONDS = 1.0

_PREFIX = "ai:cooldown:"

Target = tuple[str, str]


def _now() -> float:
    return time.time()


def _key(target: Target) -> str:
    return f"{_PREFIX}on:{target[0]}/{target[1]}"


def _count_key(target: Target) -> str:
    return f"{_PREFIX}n:{target[0]}/{target[1]}"


def enabled() -> bool:
    return int(ai_settings.AI_COOLDOWN_FAILURES or 0) > 0 and (
        float(ai_settings.AI_COOLDOWN_SECONDS or 0) > 0
    )


class Cooldowns:
    """This process's copy of the shared cooldowns. One per process (:data:`board`)."""

    def __init__(self) -> None:
        #: target -> (failed_at, until), as last read or written.
        self._entries: dict[Target, tuple[float, float]] = {}
        #: The targets whose entries the refresh reads (those routed to in this process).
        self._known: set[Target] = set()
        self._read_at = float("-inf")
        self._refreshing = False
        #: The targets whose failures this process counted.
        self._touched: set[Target] = set()

    def forget(self) -> None:
        """Drop the copy (what another process starts with); the next check reads the cache."""
        self._entries = {}
        self._known = set()
        self._read_at = float("-inf")

    def reset(self) -> None:
        """Start over: forget the copy and delete the counts and cooldowns this process wrote
        or read from the cache (synchronous: for settings changes and tests, not requests)."""
        targets = self._known | self._touched
        self._touched = set()
        self.forget()
        if not targets:
            return
        try:
            _cache().delete_many([k for t in targets for k in (_key(t), _count_key(t))])
        except Exception:
            logger.warning("could not reset the provider cooldowns", exc_info=True)

    async def cooling(self, targets: Iterable[Target]) -> dict[Target, float]:
        """Of ``targets``, those in cooldown now, each with when it failed."""
        targets = list(targets)
        now = _now()
        if not self._known.issuperset(targets):
            self._known.update(targets)
            self._read_at = float("-inf")
        if now - self._read_at >= REFRESH_SECONDS and not self._refreshing:
            await self._refresh(now)
        entries = self._entries
        if not entries:
            return {}
        out: dict[Target, float] = {}
        for target in targets:
            entry = entries.get(target)
            if entry is not None and entry[1] > now:
                out[target] = entry[0]
        return out

    async def _refresh(self, now: float) -> None:
        self._refreshing = True
        self._read_at = now  # a cache that fails is tried again a second later, not at once
        try:
            known = list(self._known)
            found = await _cache().aget_many([_key(t) for t in known])
        except Exception:
            logger.warning("could not read the provider cooldowns", exc_info=True)
            return
        finally:
            self._refreshing = False
        entries: dict[Target, tuple[float, float]] = {}
        for target in known:
            value = found.get(_key(target))
            if isinstance(value, list | tuple) and len(value) == 2:
                entries[target] = (float(value[0]), float(value[1]))
        self._entries = entries

    async def failed(self, target: Target) -> bool:
        """Count a retryable failure of ``target``; True when it put the target in cooldown."""
        if not enabled():
            return False
        threshold = int(ai_settings.AI_COOLDOWN_FAILURES)
        window = max(1, round(float(ai_settings.AI_COOLDOWN_WINDOW_SECONDS)))
        cache = _cache()
        key = _count_key(target)
        self._touched.add(target)
        # The blocking incr in a thread, not aincr: Django's async incr is a get then a set
        # (not atomic across processes, and the set gives the count the cache's default timeout
        # instead of the window's); incr is Redis INCR (or a locked update) and keeps the expiry.
        incr = sync_to_async(cache.incr, thread_sensitive=False)
        try:
            try:
                count = await incr(key)
            except ValueError:  # no count yet: this failure opens the window
                count = 1 if await cache.aadd(key, 1, timeout=window) else await incr(key)
            if count < threshold:
                return False
            seconds = float(ai_settings.AI_COOLDOWN_SECONDS)
            now = _now()
            entry = (now, now + seconds)
            await cache.aset(_key(target), entry, timeout=max(1, round(seconds)))
            await cache.adelete(key)
        except Exception:
            logger.warning("could not count a failure of %s/%s", *target, exc_info=True)
            return False
        self._known.add(target)
        self._entries = {**self._entries, target: entry}
        logger.warning("%s/%s is cooling down for %.0fs", *target, seconds)
        return True


def _cache():
    return caches[ai_settings.AI_COOLDOWN_CACHE]


#: The process's cooldowns.
board = Cooldowns()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    # A provider's key, base URL or the cooldown settings changed: its failures so far were
    # those of another upstream or policy (as ai.services.factory drops its provider clients).
    if setting.startswith(("AI_", "OPENAI_", "ANTHROPIC_", "GOOGLE_")):
        board.reset()
