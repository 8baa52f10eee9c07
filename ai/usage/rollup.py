"""The daily roll-up: :class:`UsageDaily` rows summed from the ledger, one day at a time.

Recomputing a day replaces its roll-up rows in one transaction, so it is idempotent and safe to
re-run (``ai_rollup_usage``, e.g. from cron every few minutes for today and yesterday). A day
counts as *complete* once it was rolled up more than :data:`ROLLUP_GRACE` after it ended (late
rows, such as a long stream's, have arrived by then); only complete days are read from the
roll-up, every other day from the ledger. Days are calendar days in the project's TIME_ZONE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

#: How long after a day ends its roll-up may still change (late-arriving rows).
ROLLUP_GRACE = timedelta(hours=1)

#: The summed columns of the roll-up tables.
SUMMED = (
    "requests",
    "streamed_requests",
    "estimated_requests",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "cost",
    "cost_unknown_requests",
    "latency_ms_sum",
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware [start, end) of a calendar day in the project's time zone."""
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()), tz)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
    return start, end


def local_today() -> date:
    return timezone.localdate(timezone=timezone.get_default_timezone())


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass(frozen=True, slots=True)
class RolledDay:
    day: date
    records: int
    groups: int
    complete: bool
    skipped: bool = False


def rollup_day(day: date, *, now: datetime | None = None, force: bool = False) -> RolledDay:
    """Recompute ``day``'s roll-up from the ledger. A pruned day is skipped unless ``force``
    (its ledger rows are gone; recomputing would replace the totals with what is left)."""
    from ai.models import UsageDaily, UsageDailyModel, UsageRecord, UsageRollupDay

    now = now or timezone.now()
    marker = UsageRollupDay.objects.filter(day=day).first()
    if marker is not None and marker.pruned and not force:
        return RolledDay(day, marker.records, 0, marker.complete, skipped=True)
    start, end = day_bounds(day)
    rows = (
        UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("user_id", "provider", "model", "status")
        .annotate(
            n=Count("id"),
            streamed_n=Count("id", filter=Q(streamed=True)),
            estimated_n=Count("id", filter=Q(usage_source="estimated")),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            total=Sum("total_tokens"),
            cached=Sum("cached_tokens"),
            reasoning=Sum("reasoning_tokens"),
            written=Sum("cache_write_tokens"),
            cost_sum=Sum("cost"),
            unknown=Count("id", filter=Q(cost__isnull=True)),
            latency=Sum("latency_ms"),
        )
        .order_by()
    )
    daily = [
        UsageDaily(
            day=day,
            user_id=row["user_id"],
            provider=row["provider"],
            model=row["model"],
            status=row["status"],
            requests=row["n"],
            streamed_requests=row["streamed_n"],
            estimated_requests=row["estimated_n"],
            prompt_tokens=row["prompt"] or 0,
            completion_tokens=row["completion"] or 0,
            total_tokens=row["total"] or 0,
            cached_tokens=row["cached"] or 0,
            reasoning_tokens=row["reasoning"] or 0,
            cache_write_tokens=row["written"] or 0,
            cost=row["cost_sum"] or 0,
            cost_unknown_requests=row["unknown"],
            latency_ms_sum=row["latency"] or 0,
        )
        for row in rows
    ]
    per_model: dict[tuple[str, str, str], UsageDailyModel] = {}
    for d in daily:
        key = (d.provider, d.model, d.status)
        into = per_model.get(key)
        if into is None:
            per_model[key] = UsageDailyModel(
                day=day, provider=d.provider, model=d.model, status=d.status,
                **{name: getattr(d, name) for name in SUMMED},
            )  # fmt: skip
        else:
            for name in SUMMED:
                setattr(into, name, getattr(into, name) + getattr(d, name))
    records = sum(d.requests for d in daily)
    complete = now >= end + ROLLUP_GRACE
    with transaction.atomic():
        UsageDaily.objects.filter(day=day).delete()
        UsageDaily.objects.bulk_create(daily, batch_size=1000)
        UsageDailyModel.objects.filter(day=day).delete()
        UsageDailyModel.objects.bulk_create(per_model.values(), batch_size=1000)
        UsageRollupDay.objects.update_or_create(
            day=day,
            defaults={
                "computed_at": now,
                "complete": complete,
                "records": records,
                "pruned": False if force else getattr(marker, "pruned", False),
            },
        )
    return RolledDay(day, records, len(daily), complete)


def rollup_days(
    days: Iterable[date], *, now: datetime | None = None, force: bool = False
) -> list[RolledDay]:
    return [rollup_day(day, now=now, force=force) for day in sorted(set(days))]


def complete_days(start: date, end: date, *, include_pruned: bool = True) -> set[date]:
    """The days in [start, end] whose roll-up is complete (read from it, not the ledger).
    ``include_pruned=False`` leaves out days whose ledger rows were pruned (for views that
    must agree with the rows the ledger still holds)."""
    from ai.models import UsageRollupDay

    days = UsageRollupDay.objects.filter(day__gte=start, day__lte=end, complete=True)
    if not include_pruned:
        days = days.filter(pruned=False)
    return set(days.values_list("day", flat=True))
