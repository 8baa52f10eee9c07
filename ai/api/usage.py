"""``GET /api/v1/app/ai/usage``: the caller's own usage over a date range.

Totals, a breakdown by day, provider and model, and a paginated list of the caller's records.
Staff may pass ``?user=<id>`` (or ``user=all``); anyone else asking for another user gets 403.
``?key=<prefix>`` keeps one gateway API key's requests (one of the user's keys: another's is
404); its totals come from the ledger alone (the daily roll-ups have no key), so days pruned by
``ai_prune_usage`` are not in them.
Days are calendar days in the project's TIME_ZONE; ``end`` is included. Costs are decimal
strings in USD; a record whose model has no price has ``cost: null`` and is counted in
``cost_unknown_requests`` (its cost is not in the totals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from pydantic import BeforeValidator, ConfigDict, Field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request

from ai.api.base import AsyncAPIView, json_response
from ai.api.errors import InvalidRequest
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import extend_schema
from ai.api.validation import RequestBody, Says, fail, validate
from ai.db import run_db
from ai.usage.reports import METRICS, UsageSummary, summarize
from ai.usage.rollup import day_bounds, days_between, local_today

DEFAULT_DAYS = 30
MAX_DAYS = 366
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_PUBLIC_METRICS = [m for m in METRICS if m != "latency_ms_sum"]


@dataclass(frozen=True, slots=True)
class UsageQuery:
    start: date
    end: date
    user_id: int | None  # None: every user (staff only)
    page: int
    page_size: int
    api_key: str | None = None  # a key's prefix


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    # Only YYYY-MM-DD: pydantic alone would also take a unix timestamp or a datetime.
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise fail("bad_date", "Must be a date as YYYY-MM-DD.")
    return value


Day = Annotated[date | None, BeforeValidator(_iso_day), Says("Must be a date as YYYY-MM-DD.")]


class UsageParams(RequestBody):
    """The query string. Strings, so converted (``"2"`` -> 2); other parameters are ignored."""

    model_config = ConfigDict(strict=False, extra="ignore")

    start: Day = Field(
        None, description=f"First day (default: {DEFAULT_DAYS - 1} days before end)."
    )
    end: Day = Field(None, description="Last day, included (default: today).")
    page: Annotated[
        int, Field(ge=1), Says("Must be at least 1.", int_parsing="Must be an integer.")
    ] = Field(1, description="Page of records, from 1.")
    page_size: Annotated[
        int,
        Field(ge=1, le=MAX_PAGE_SIZE),
        Says(f"Must be between 1 and {MAX_PAGE_SIZE}.", int_parsing="Must be an integer."),
    ] = Field(DEFAULT_PAGE_SIZE, description=f"Records per page, 1-{MAX_PAGE_SIZE}.")
    user: Annotated[
        Literal["me", "all"] | int | None, Says("Must be a user id, 'me' or 'all'.")
    ] = Field(
        None,
        description="Staff only: a user id, or 'all'. Others may only ask for themselves ('me').",
    )
    key: Annotated[
        str | None, Field(max_length=40), Says("Must be an API key's prefix (aig_...).")
    ] = Field(
        None,
        description="Only the requests made with this API key (its prefix, aig_ and 8 "
        "characters), among the user's (or with user=all, anyone's) keys.",
    )


def parse_query(params: Any, user: Any) -> UsageQuery:
    """Validate the query string. 400 naming each bad field; 403 for another user's usage."""
    given = {name: value for name, value in params.items() if value != ""}
    query = validate(UsageParams, given)
    end = query.end or local_today()
    start = query.start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise InvalidRequest({"end": ["Must be on or after start."]})
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidRequest({"start": [f"The range may span at most {MAX_DAYS} days."]})
    user_id: int | None = user.pk
    if query.user == "all":
        user_id = None
    elif isinstance(query.user, int):
        user_id = query.user
    if user_id != user.pk and not user.is_staff:
        raise PermissionDenied("Only staff may see another user's usage.")
    return UsageQuery(start, end, user_id, query.page, query.page_size, query.key)


def _cost(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    out = {m: row[m] for m in _PUBLIC_METRICS}
    out["cost"] = _cost(row["cost"])
    return out


def _record(r: Any) -> dict[str, Any]:
    return {
        "request_id": r.request_id,
        "created_at": r.created_at.isoformat(),
        "endpoint": r.endpoint,
        "provider": r.provider,
        "model": r.model,
        "complexity": r.complexity,
        "streamed": r.streamed,
        "status": r.status,
        "error_code": r.error_code,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.total_tokens,
        "cached_tokens": r.cached_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "cache_write_tokens": r.cache_write_tokens,
        "usage_source": r.usage_source,
        "cost": _cost(r.cost),
        "latency_ms": r.latency_ms,
        "ttft_ms": r.ttft_ms,
        "api_key": r.api_key.prefix if r.api_key_id is not None else None,
    }


def _key_summary(start: date, end: date, key_id: int) -> UsageSummary:
    """:func:`summarize` for one API key, from the ledger (the roll-ups have no key)."""
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    from ai.models import UsageRecord
    from ai.usage import reports

    records = UsageRecord.objects.filter(
        api_key_id=key_id,
        created_at__gte=day_bounds(start)[0],
        created_at__lt=day_bounds(end)[1],
    ).annotate(day=TruncDate("created_at", tzinfo=timezone.get_default_timezone()))
    grouped = reports._grouped(records, ["day", "provider", "model"], reports._raw_metrics())
    rows = [
        {
            "day": row["day"],
            "provider": row["provider"],
            "model": row["model"],
            **{m: row[f"m_{m}"] or 0 for m in METRICS},
        }
        for row in grouped
    ]
    totals = reports._rollup_of(rows, ())
    by_day = {row["day"]: row for row in reports._rollup_of(rows, ("day",))}
    days = [by_day.get(d) or {"day": d, **reports._empty()} for d in days_between(start, end)]
    by_cost = lambda r: (-(r["cost"] or 0), -r["total_tokens"])  # noqa: E731
    return UsageSummary(
        start=start,
        end=end,
        totals=totals[0] if totals else reports._empty(),
        by_day=days,
        by_provider=sorted(reports._rollup_of(rows, ("provider",)), key=by_cost),
        by_model=sorted(reports._rollup_of(rows, ("provider", "model")), key=by_cost),
    )


def usage_payload(query: UsageQuery, page_url: Any) -> dict[str, Any]:
    """The response body (synchronous ORM work; the view runs it off the event loop)."""
    from ai.models import ApiKey, UsageRecord

    User = get_user_model()
    subject = None
    if query.user_id is not None:
        found = User.objects.filter(pk=query.user_id).values_list("pk", User.USERNAME_FIELD)
        row = found.first()
        if row is None:
            raise NotFound("No such user.")
        subject = {"id": row[0], "username": row[1]}
    api_key = None
    if query.api_key is not None:
        keys = ApiKey.objects.filter(prefix=query.api_key)
        if query.user_id is not None:
            keys = keys.filter(owner_id=query.user_id)
        api_key = keys.values("pk", "prefix", "name").first()
        if api_key is None:
            raise NotFound(f"No API key {query.api_key} among this user's keys.")
    records = UsageRecord.objects.filter(
        created_at__gte=day_bounds(query.start)[0], created_at__lt=day_bounds(query.end)[1]
    ).select_related("api_key")
    if query.user_id is not None:
        records = records.filter(user_id=query.user_id)
    if api_key is None:
        summary = summarize(query.start, query.end, user_id=query.user_id)
    else:
        summary = _key_summary(query.start, query.end, api_key["pk"])
        records = records.filter(api_key_id=api_key["pk"])
    # Counted on the ledger, not taken from the totals: those may include pruned days.
    count = records.count()
    offset = (query.page - 1) * query.page_size
    page = list(records.order_by("-created_at", "-id")[offset : offset + query.page_size])
    pages = max(1, -(-count // query.page_size))
    return {
        "user": subject,
        "api_key": None
        if api_key is None
        else {"prefix": api_key["prefix"], "name": api_key["name"]},
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "totals": _metrics(summary.totals),
        "by_day": [{"day": d["day"].isoformat(), **_metrics(d)} for d in summary.by_day],
        "by_provider": [{"provider": p["provider"], **_metrics(p)} for p in summary.by_provider],
        "by_model": [
            {"provider": m["provider"], "model": m["model"], **_metrics(m)}
            for m in summary.by_model
        ],
        "records": {
            "count": count,
            "page": query.page,
            "page_size": query.page_size,
            "pages": pages,
            "next": page_url(query.page + 1) if query.page < pages else None,
            "previous": page_url(min(query.page - 1, pages)) if query.page > 1 else None,
            "results": [_record(r) for r in page],
        },
    }


class _Metrics(serializers.Serializer):
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    streamed = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField(help_text="Part of prompt_tokens.")
    total_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(
        max_digits=20, decimal_places=10, help_text="USD, over the priced requests."
    )
    cost_unknown_requests = serializers.IntegerField(
        help_text="Requests whose model has no price: not in `cost`."
    )


class _Day(_Metrics):
    day = serializers.DateField()


class _Provider(_Metrics):
    provider = serializers.CharField()


class _Model(_Provider):
    model = serializers.CharField()


class _Record(serializers.Serializer):
    request_id = serializers.CharField(help_text="The X-Request-ID the response carried.")
    created_at = serializers.DateTimeField()
    endpoint = serializers.CharField()
    provider = serializers.CharField()
    model = serializers.CharField()
    complexity = serializers.CharField()
    streamed = serializers.BooleanField()
    status = serializers.ChoiceField(["ok", "error", "cancelled"])
    error_code = serializers.CharField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField(help_text="Part of prompt_tokens.")
    usage_source = serializers.ChoiceField(["reported", "estimated", "none"])
    cost = serializers.DecimalField(max_digits=18, decimal_places=10, allow_null=True)
    latency_ms = serializers.IntegerField()
    ttft_ms = serializers.IntegerField(allow_null=True)
    api_key = serializers.CharField(
        allow_null=True, help_text="The prefix of the API key used; null for a JWT."
    )


class _Page(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = _Record(many=True)


class _Subject(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class _Key(serializers.Serializer):
    prefix = serializers.CharField()
    name = serializers.CharField()


class UsageResponseSerializer(serializers.Serializer):
    """The documented shape of the response (the view builds it directly)."""

    user = _Subject(allow_null=True, help_text="Whose usage; null for `user=all`.")
    api_key = _Key(allow_null=True, help_text="The API key asked for with `key`, else null.")
    start = serializers.DateField()
    end = serializers.DateField()
    totals = _Metrics()
    by_day = _Day(many=True)
    by_provider = _Provider(many=True)
    by_model = _Model(many=True)
    records = _Page()


class UsageView(AsyncAPIView):
    """The caller's usage: totals, breakdowns and records over a date range."""

    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="ai_usage",
        summary="Your usage: totals, by day / provider / model, and records",
        parameters=[UsageParams],
        responses={200: UsageResponseSerializer},
    )  # fmt: skip
    async def get(self, request: Request) -> HttpResponse:
        query = parse_query(request.query_params, request.user)

        def page_url(page: int) -> str:
            params = request.query_params.copy()
            params["page"] = str(page)
            return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

        payload = await run_db(usage_payload, query, page_url)
        return json_response(payload)
