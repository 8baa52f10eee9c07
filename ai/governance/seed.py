"""Budget counters from the usage ledger, for a cache that lost them (a Redis restart or flush):
``python manage.py ai_budgets seed``. Off the request path: the gateway itself never reads the
ledger, and a counter it finds missing starts from 0.

Each user's and each key's spend of the current UTC day and month (the ledger's ``cost``, all
statuses) raises its counter to at least that; a counter already higher (requests the ledger
has not written yet) is left as it is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.db.models import Sum

from ai.governance.budgets import period, to_nano

#: Budget counters live this long past the end of their period (as admission sets them).
GRACE_SECONDS = 86_400


def period_start(kind: str, now: float) -> datetime:
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return start if kind == "daily" else start.replace(day=1)


def ledger_spend(now: float | None = None) -> dict[str, tuple[int, int]]:
    """``{counter key: (spent nano-USD, ttl)}`` for every user and key with spend this day and
    this month (blocking: database queries)."""
    from ai.models import UsageRecord

    now = time.time() if now is None else now
    out: dict[str, tuple[int, int]] = {}
    for kind in ("daily", "monthly"):
        suffix, resets = period(kind, now)
        ttl = int(resets.timestamp() - now) + GRACE_SECONDS
        rows = UsageRecord.objects.filter(
            created_at__gte=period_start(kind, now), cost__isnull=False
        )
        for scope, field in (("user", "user_id"), ("key", "api_key_id")):
            sums: Any = (
                rows.filter(**{f"{field}__isnull": False})
                .values(field)
                .annotate(spent=Sum("cost"))
                .values_list(field, "spent")
            )
            for ident, spent in sums:
                if spent:
                    out[f"ai:gov:spend:{scope}:{ident}:{suffix}"] = (to_nano(spent), ttl)
    return out


async def seed(store: Any, spends: dict[str, tuple[int, int]]) -> int:
    for key, (spent, ttl) in spends.items():
        await store.seed(key, spent, ttl)
    return len(spends)
