"""Where the counts live: :class:`Verdict` (what a store answers), and :class:`MemoryStore`, the
scripts of :mod:`ai.governance.scripts` in Python for one process (the local-memory cache, or
any cache that cannot run them: then each process counts on its own, and ``check`` says so).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

#: A token bucket refills its capacity over this many milliseconds (the limits are per minute).
WINDOW_MS = 60_000

ADMITTED, RATE_LIMITED, OVER_BUDGET = 0, 1, 2
#: The Redis script's answer when the request's deferred revocation marker changed.
STALE = 3
#: Counters a memory store holds before it drops those that are whole again or expired.
MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class Bucket:
    """A rate limit to check: ``capacity`` per minute, this request taking ``cost``."""

    key: str
    capacity: int
    cost: int


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget to check: ``limit`` and this request's ``cost`` in nano-USD; the counter lives
    ``ttl`` seconds (past the end of its period)."""

    key: str
    limit: int
    cost: int
    ttl: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """A store's answer to :meth:`admit`. ``buckets`` is ``(remaining, reset_ms)`` per bucket,
    in the order asked; ``failed`` the 1-based index of the bucket (``RATE_LIMITED``) or budget
    (``OVER_BUDGET``) that refused, whose ``spent``/``reserved`` are then given."""

    status: int
    failed: int = 0
    retry_ms: int = 0
    buckets: tuple[tuple[int, int], ...] = ()
    spent: int = 0
    reserved: int = 0

    @classmethod
    def parse(cls, reply: bytes | str | Sequence[int], nbuckets: int) -> Verdict:
        """From the admit script's reply (its numbers, space-separated)."""
        if isinstance(reply, bytes | str):
            reply = [int(n) for n in reply.split()]
        status, failed, retry_ms = int(reply[0]), int(reply[1]), int(reply[2])
        if status == STALE:
            return cls(status)
        pairs = tuple((int(reply[3 + 2 * i]), int(reply[4 + 2 * i])) for i in range(nbuckets))
        rest = reply[3 + 2 * nbuckets :]
        spent, reserved = (int(rest[0]), int(rest[1])) if len(rest) >= 2 else (0, 0)
        return cls(status, failed, retry_ms, pairs, spent, reserved)


@dataclass(slots=True)
class _Level:
    level: float
    at: float


@dataclass(slots=True)
class _Spend:
    spent: int = 0
    reserved: int = 0
    expires: float = 0.0


@dataclass(slots=True)
class MemoryStore:
    """Exact in one process (a lock makes each call atomic, also across the threads of a WSGI
    server). Expired counters are dropped as they are met."""

    buckets: dict[str, _Level] = field(default_factory=dict)
    budgets: dict[str, _Spend] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _level(self, key: str, capacity: int, now: float) -> float:
        state = self.buckets.get(key)
        if state is None:
            return float(capacity)
        elapsed = max(0.0, now - state.at)
        return min(float(capacity), state.level + elapsed * capacity / WINDOW_MS)

    def _spend(self, key: str, now_s: float) -> _Spend:
        spend = self.budgets.get(key)
        if spend is not None and spend.expires <= now_s:
            del self.budgets[key]
            spend = None
        return spend or _Spend()

    def _prune(self, now: float) -> None:
        """Drop what a missing entry means anyway: buckets whole again, budgets expired (as
        Redis expires its keys)."""
        self.buckets = {
            key: state
            for key, state in self.buckets.items()
            if now - state.at < WINDOW_MS * 2 or state.level < 0
        }
        now_s = now / 1000
        self.budgets = {key: s for key, s in self.budgets.items() if s.expires > now_s}

    async def admit(self, buckets: Sequence[Bucket], budgets: Sequence[Budget]) -> Verdict:
        return self.admit_now(buckets, budgets)

    def admit_now(self, buckets: Sequence[Bucket], budgets: Sequence[Budget]) -> Verdict:
        with self.lock:
            now_s = time.time()
            now = now_s * 1000
            levels = [self._level(b.key, b.capacity, now) for b in buckets]

            def states(after: list[float]) -> tuple[tuple[int, int], ...]:
                return tuple(
                    (max(0, math.floor(level)), _reset_ms(b.capacity, level))
                    for b, level in zip(buckets, after, strict=True)
                )

            for i, (bucket, level) in enumerate(zip(buckets, levels, strict=True), 1):
                need = min(bucket.cost, bucket.capacity)
                if level < need:
                    retry = math.ceil((need - level) * WINDOW_MS / bucket.capacity)
                    return Verdict(RATE_LIMITED, i, retry, states(levels))
            for j, budget in enumerate(budgets, 1):
                spend = self._spend(budget.key, now_s)
                if spend.spent + spend.reserved + budget.cost > budget.limit:
                    return Verdict(OVER_BUDGET, j, 0, states(levels), spend.spent, spend.reserved)
            if len(self.buckets) + len(self.budgets) > MAX_ENTRIES:
                self._prune(now)
            after = [level - b.cost for b, level in zip(buckets, levels, strict=True)]
            for bucket, level in zip(buckets, after, strict=True):
                self.buckets[bucket.key] = _Level(level, now)
            for budget in budgets:
                spend = self._spend(budget.key, now_s)
                spend.reserved += budget.cost
                spend.expires = now_s + budget.ttl
                self.budgets[budget.key] = spend
            return Verdict(ADMITTED, 0, 0, states(after))

    async def settle(
        self,
        corrections: Sequence[tuple[str, int, int]],
        settlements: Sequence[tuple[str, int, int, int]],
    ) -> None:
        self.settle_now(corrections, settlements)

    def settle_now(
        self,
        corrections: Sequence[tuple[str, int, int]],
        settlements: Sequence[tuple[str, int, int, int]],
    ) -> None:
        """``corrections``: ``(key, capacity, refund)`` per token bucket; ``settlements``:
        ``(key, reserved, spent, ttl)`` per budget."""
        with self.lock:
            now_s = time.time()
            now = now_s * 1000
            for key, capacity, refund in corrections:
                level = min(float(capacity), self._level(key, capacity, now) + refund)
                self.buckets[key] = _Level(level, now)
            for key, reserved, spent, ttl in settlements:
                spend = self._spend(key, now_s)
                spend.reserved = max(0, spend.reserved - reserved)
                spend.spent += spent
                spend.expires = now_s + ttl
                self.budgets[key] = spend

    async def drain(self) -> None:
        """Nothing is ever in flight here (the same interface as the Redis store's)."""

    async def seed(self, key: str, spent: int, ttl: int) -> None:
        """Raise a budget's spent count to ``spent`` (never lower it)."""
        with self.lock:
            now_s = time.time()
            spend = self._spend(key, now_s)
            spend.spent = max(spend.spent, spent)
            spend.expires = now_s + ttl
            self.budgets[key] = spend

    async def read_budget(self, key: str) -> tuple[int, int]:
        """``(spent, reserved)`` of a budget counter (tests, the admin)."""
        with self.lock:
            spend = self._spend(key, time.time())
            return spend.spent, spend.reserved


def _reset_ms(capacity: int, level: float) -> int:
    return max(0, math.ceil((capacity - level) * WINDOW_MS / capacity))
