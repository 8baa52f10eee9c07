"""What keeps the admin's usage list fast on a ledger of millions of rows.

Measured on PostgreSQL with 2M rows (bench/usage_explain.py), Django's stock changelist spent
seconds per page on three whole-table queries: the paginator's COUNT(*), the date hierarchy's
``SELECT DISTINCT date_trunc(...)`` and the filtered set's totals. Here:

* :class:`CappedCountPaginator` counts at most :data:`COUNT_CAP` rows;
* :class:`LedgerQuerySet` answers the date hierarchy from the roll-up's days;
* :func:`rollup_totals` computes the totals from the roll-ups when every active filter is one
  they can answer (provider, model, status, user, dates), else the caller sums the rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db import models
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.functional import cached_property

from ai.usage.reports import aggregate
from ai.usage.rollup import days_between, local_today

#: The admin list counts this many matching rows at most ("100000+").
COUNT_CAP = 100_000


class CappedCountPaginator(Paginator):
    """Counts ``SELECT COUNT(*) FROM (... LIMIT cap + 1)``: cheap at any table size. Pages past
    the cap are not offered; narrowing the filters (dates) reaches older rows."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: COUNT_CAP + 1].count()


class LedgerQuerySet(models.QuerySet):
    """The admin's queryset of usage records, with a roll-up-backed ``datetimes()``."""

    def datetimes(self, field_name: str, kind: str, order: str = "ASC", tzinfo: Any = None) -> Any:
        """The date hierarchy's links: the days between the filtered rows' first and last that
        had any usage (from the roll-up; days not rolled up yet are all offered), truncated to
        ``kind``. A link can lead to an empty list when other filters are active; that is the
        price of not scanning the ledger."""
        from ai.models import UsageRollupDay

        if field_name != "created_at" or kind not in ("year", "month", "day"):
            return super().datetimes(field_name, kind, order, tzinfo)
        bounds = self.order_by().aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None:
            return []
        tz = tzinfo or timezone.get_current_timezone()
        first = timezone.localtime(bounds["first"], tz).date()
        last = timezone.localtime(bounds["last"], tz).date()
        markers = dict(
            UsageRollupDay.objects.filter(day__gte=first, day__lte=last, complete=True)
            .values_list("day", "records")
        )  # fmt: skip
        days = [d for d in days_between(first, last) if markers.get(d, 1) > 0]
        if kind == "year":
            keys = {(d.year, 1, 1) for d in days}
        elif kind == "month":
            keys = {(d.year, d.month, 1) for d in days}
        else:
            keys = {(d.year, d.month, d.day) for d in days}
        values = [timezone.make_aware(datetime(*key), tz) for key in keys]
        return sorted(values, reverse=order == "DESC")


#: Query-string keys the roll-ups can answer, besides paging and ordering -> filter name.
_ROLLUP_KEYS = {"provider": "provider", "model": "model", "status__exact": "status"}
_DATE_KEYS = {
    "created_at__year",
    "created_at__month",
    "created_at__day",
    "created_at__gte",
    "created_at__lt",
}
_IGNORED = {"o", "p", "all", "e", "_popup", "_to_field"}


def _midnight_date(value: str) -> date | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    local = timezone.localtime(moment, timezone.get_default_timezone())
    return local.date() if local.time() == datetime.min.time() else None


def _date_range(params: dict[str, str]) -> tuple[date | None, date | None] | None:
    """[start, end] from the date hierarchy / date filter parameters; None when they do not
    fall on whole days (the caller then sums the rows)."""
    start: date | None = None
    end: date | None = None
    try:
        if "created_at__year" in params:
            year = int(params["created_at__year"])
            month = int(params.get("created_at__month", 0))
            day = int(params.get("created_at__day", 0))
            if day:
                start = end = date(year, month, day)
            elif month:
                start = date(year, month, 1)
                end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
            else:
                start, end = date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        return None
    if "created_at__gte" in params:
        since = _midnight_date(params["created_at__gte"])
        if since is None:
            return None
        start = max(start, since) if start else since
    if "created_at__lt" in params:
        until = _midnight_date(params["created_at__lt"])
        if until is None:
            return None
        until -= timedelta(days=1)
        end = min(end, until) if end else until
    return start, end


def rollup_totals(params: dict[str, str]) -> dict[str, Any] | None:
    """The admin list's totals from the roll-ups (plus the ledger for days not rolled up), or
    None when a filter in ``params`` is one only the rows can answer (search, usage source,
    price unknown ...). Days pruned from the ledger are left out, like the rows."""
    from ai.models import UsageRecord

    keys = set(params) - _IGNORED
    if keys - set(_ROLLUP_KEYS) - _DATE_KEYS - {"user_id"}:
        return None
    dates = _date_range(params)
    if dates is None:
        return None
    start, end = dates
    user_id = params.get("user_id")
    if user_id is not None and not user_id.isdigit():
        return None
    if start is None:
        first = UsageRecord.objects.aggregate(first=Min("created_at"))["first"]
        if first is None:
            return _zero()
        start = timezone.localtime(first, timezone.get_default_timezone()).date()
    end = end or local_today()
    if end < start:
        return _zero()
    filters = {name: params[key] for key, name in _ROLLUP_KEYS.items() if key in params}
    rows = aggregate(
        start, end, (), user_id=int(user_id) if user_id else None, filters=filters,
        include_pruned=False,
    )  # fmt: skip
    if not rows:
        return _zero()
    row = rows[0]
    return {
        "requests": row["requests"],
        "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
        "total_tokens": row["total_tokens"],
        "cost": row["cost"],
        "unknown": row["cost_unknown_requests"],
        "errors": row["errors"],
        "cancelled": row["cancelled"],
        "from_rollup": True,
    }


def _zero() -> dict[str, Any]:
    return {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
            "cost": 0, "unknown": 0, "errors": 0, "cancelled": 0, "from_rollup": True}  # fmt: skip


__all__ = ["COUNT_CAP", "CappedCountPaginator", "LedgerQuerySet", "rollup_totals"]
