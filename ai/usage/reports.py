"""Usage totals over a date range, for the usage API, the admin dashboard and ``ai_usage_report``.

Whole days that are rolled up (complete) are read from :class:`UsageDaily`; every other day of
the range from :class:`UsageRecord`; the two are merged per group. So a 90-day dashboard reads
~90 x models roll-up rows plus today's ledger rows, however big the ledger is. Synchronous:
async callers wrap the call in ``sync_to_async``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ai.usage.rollup import complete_days, day_bounds, days_between

GROUPS = ("day", "user", "provider", "model", "status")
METRICS = (
    "requests",
    "errors",
    "cancelled",
    "streamed",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "total_tokens",
    "cost",
    "cost_unknown_requests",
    "latency_ms_sum",
)


def _empty() -> dict[str, Any]:
    return {m: (Decimal(0) if m == "cost" else 0) for m in METRICS}


def _raw_metrics() -> dict[str, Any]:
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(status="error")),
        "cancelled": Count("id", filter=Q(status="cancelled")),
        "streamed": Count("id", filter=Q(streamed=True)),
        "prompt_tokens": Sum("prompt_tokens"),
        "completion_tokens": Sum("completion_tokens"),
        "cached_tokens": Sum("cached_tokens"),
        "reasoning_tokens": Sum("reasoning_tokens"),
        "cache_write_tokens": Sum("cache_write_tokens"),
        "total_tokens": Sum("total_tokens"),
        "cost": Sum("cost"),
        "cost_unknown_requests": Count("id", filter=Q(cost__isnull=True)),
        "latency_ms_sum": Sum("latency_ms"),
    }


def _rollup_metrics() -> dict[str, Any]:
    return {
        "requests": Sum("requests"),
        "errors": Sum("requests", filter=Q(status="error")),
        "cancelled": Sum("requests", filter=Q(status="cancelled")),
        "streamed": Sum("streamed_requests"),
        "prompt_tokens": Sum("prompt_tokens"),
        "completion_tokens": Sum("completion_tokens"),
        "cached_tokens": Sum("cached_tokens"),
        "reasoning_tokens": Sum("reasoning_tokens"),
        "cache_write_tokens": Sum("cache_write_tokens"),
        "total_tokens": Sum("total_tokens"),
        "cost": Sum("cost"),
        "cost_unknown_requests": Sum("cost_unknown_requests"),
        "latency_ms_sum": Sum("latency_ms_sum"),
    }


def _prefixed(metrics: dict[str, Any]) -> dict[str, Any]:
    # Annotations may not reuse a field's name ("requests", "cost" ... are fields).
    return {f"m_{name}": expression for name, expression in metrics.items()}


def _spans(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs of ``days`` (sorted) as (first, last)."""
    spans: list[tuple[date, date]] = []
    for day in days:
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


#: Columns both the ledger and the roll-ups can be filtered on (besides the user).
FILTERS = ("provider", "model", "status")


def aggregate(
    start: date,
    end: date,
    by: Sequence[str],
    *,
    user_id: int | None = None,
    filters: dict[str, str] | None = None,
    include_pruned: bool = True,
) -> list[dict[str, Any]]:
    """Sums of :data:`METRICS` over the days [start, end], grouped by ``by`` (names from
    :data:`GROUPS`), for one user or (``user_id`` None) everyone, optionally only the rows
    matching ``filters`` (:data:`FILTERS` -> value). One dict per group, with the group's keys
    (``user`` is the user id) and every metric. Rolled-up days come from the per-model roll-up
    when no user is involved, else from the per-user one."""
    from ai.models import UsageDaily, UsageDailyModel, UsageRecord

    unknown = set(by) - set(GROUPS)
    if unknown:
        raise ValueError(f"Cannot group by {', '.join(sorted(unknown))}; choose from {GROUPS}")
    filters = filters or {}
    if set(filters) - set(FILTERS):
        raise ValueError(f"Cannot filter on {sorted(set(filters) - set(FILTERS))}")
    rolled = complete_days(start, end, include_pruned=include_pruned)
    raw_days = [d for d in days_between(start, end) if d not in rolled]
    columns = [_COLUMNS.get(g, g) for g in by]
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge(rows: Any) -> None:
        for row in rows:
            key = tuple(row[c] for c in columns)
            into = merged.setdefault(key, {**dict(zip(by, key, strict=True)), **_empty()})
            for metric in METRICS:
                into[metric] += row[f"m_{metric}"] or 0

    if rolled:
        per_user = user_id is not None or "user" in by
        table = UsageDaily if per_user else UsageDailyModel
        daily = table.objects.filter(
            day__gte=start, day__lte=end, day__in=sorted(rolled), **filters
        )
        if user_id is not None:
            daily = daily.filter(user_id=user_id)
        merge(_grouped(daily, columns, _rollup_metrics()))
    if raw_days:
        span_q = Q()
        for first, last in _spans(raw_days):
            span_q |= Q(created_at__gte=day_bounds(first)[0], created_at__lt=day_bounds(last)[1])
        records = UsageRecord.objects.filter(span_q, **filters)
        if user_id is not None:
            records = records.filter(user_id=user_id)
        if "day" in by:
            records = records.annotate(
                day=TruncDate("created_at", tzinfo=timezone.get_default_timezone())
            )
        merge(_grouped(records, columns, _raw_metrics()))
    return list(merged.values())


_COLUMNS = {"user": "user_id"}


def _grouped(queryset: Any, columns: list[str], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group of ``columns``; with no columns, one row of totals (``values()``
    without fields would group by every column)."""
    if not columns:
        return [queryset.order_by().aggregate(**_prefixed(metrics))]
    return list(queryset.values(*columns).annotate(**_prefixed(metrics)).order_by())


@dataclass(frozen=True, slots=True)
class UsageSummary:
    start: date
    end: date
    totals: dict[str, Any]
    by_day: list[dict[str, Any]]
    by_provider: list[dict[str, Any]]
    by_model: list[dict[str, Any]]


def _rollup_of(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        into = out.setdefault(key, {**dict(zip(keys, key, strict=True)), **_empty()})
        for metric in METRICS:
            into[metric] += row[metric]
    return list(out.values())


def summarize(start: date, end: date, *, user_id: int | None = None) -> UsageSummary:
    """Totals and breakdowns by day (every day of the range, zeros included), provider and
    model, from one grouped query per source."""
    rows = aggregate(start, end, ("day", "provider", "model"), user_id=user_id)
    totals = _rollup_of(rows, ())
    by_day = {row["day"]: row for row in _rollup_of(rows, ("day",))}
    days = [by_day.get(d) or {"day": d, **_empty()} for d in days_between(start, end)]
    by_cost = lambda r: (-(r["cost"] or 0), -r["total_tokens"])  # noqa: E731
    return UsageSummary(
        start=start,
        end=end,
        totals=totals[0] if totals else _empty(),
        by_day=days,
        by_provider=sorted(_rollup_of(rows, ("provider",)), key=by_cost),
        by_model=sorted(_rollup_of(rows, ("provider", "model")), key=by_cost),
    )


def top_users(start: date, end: date, limit: int = 10) -> list[dict[str, Any]]:
    """The users with the highest spend (then tokens) in the range, with their username."""
    from django.contrib.auth import get_user_model

    rows = aggregate(start, end, ("user",))
    rows.sort(key=lambda r: (-(r["cost"] or 0), -r["total_tokens"]))
    rows = rows[:limit]
    User = get_user_model()
    names = dict(
        User.objects.filter(pk__in=[r["user"] for r in rows if r["user"] is not None]).values_list(
            "pk", User.USERNAME_FIELD
        )
    )
    for row in rows:
        row["username"] = names.get(row["user"], "(deleted user)" if row["user"] else "(none)")
    return rows
