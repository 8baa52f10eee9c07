"""What the admin pages show: the usage dashboard's figures and charts, unpriced models, and the
providers' public configuration (never a key)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.module_loading import import_string

from ai.conf import ai_settings
from ai.services.compatible import env_name
from ai.services.factory import (
    API_KEY_SETTINGS,
    BASE_URL_SETTINGS,
    PROVIDER_CLASSES,
    compatible_providers,
    is_configured,
)
from ai.usage.charts import bar_list, count, money, stacked_columns
from ai.usage.pricing import get_price_book
from ai.usage.reports import aggregate, summarize, top_users
from ai.usage.rollup import local_today

PERIODS = (7, 30, 90)


def _changelist(**params: Any) -> str:
    return reverse("admin:ai_usagerecord_changelist") + "?" + urlencode(params)


def unpriced_models(days: int = 30) -> list[dict[str, Any]]:
    """Models used in the last ``days`` days whose requests were recorded with cost unknown and
    that still have no price now (flagged in the admin with an "add price" link)."""
    end = local_today()
    rows = aggregate(end - timedelta(days=days - 1), end, ("provider", "model"))
    book = get_price_book()
    add_url = reverse("admin:ai_modelprice_add")
    flagged = []
    for row in rows:
        if not row["cost_unknown_requests"]:
            continue
        row["priced_now"] = book.price_at(row["provider"], row["model"]) is not None
        row["add_url"] = (
            add_url + "?" + urlencode({"provider": row["provider"], "model": row["model"]})
        )
        flagged.append(row)
    flagged.sort(key=lambda r: -r["cost_unknown_requests"])
    return flagged


def build_dashboard(days: int) -> dict[str, Any]:
    """Template context for the dashboard over the last ``days`` days including today."""
    end = local_today()
    start = end - timedelta(days=days - 1)
    summary = summarize(start, end)
    labels = [d["day"].strftime("%b %d") for d in summary.by_day]
    spend = stacked_columns(
        labels, [("spend", [d["cost"] for d in summary.by_day])], fmt=money, title="Spend per day"
    )
    tokens = stacked_columns(
        labels,
        [
            ("prompt", [d["prompt_tokens"] - d["cached_tokens"] for d in summary.by_day]),
            ("cached prompt", [d["cached_tokens"] for d in summary.by_day]),
            ("completion", [d["completion_tokens"] for d in summary.by_day]),
        ],
        fmt=count,
        title="Tokens per day",
    )
    requests = stacked_columns(
        labels,
        [
            ("ok", [d["requests"] - d["errors"] - d["cancelled"] for d in summary.by_day]),
            ("error", [d["errors"] for d in summary.by_day]),
            ("cancelled", [d["cancelled"] for d in summary.by_day]),
        ],
        fmt=count,
        title="Requests per day",
    )

    def detail(row: dict[str, Any]) -> str:
        unknown = row["cost_unknown_requests"]
        extra = f", {unknown} unpriced" if unknown else ""
        return f"{count(row['total_tokens'])} tokens, {row['requests']} requests{extra}"

    def cost(row: dict[str, Any]) -> Any:
        # Nothing priced at all: the cost is unknown, not $0.
        unpriced = row["requests"] and row["cost_unknown_requests"] == row["requests"]
        return None if unpriced else row["cost"]

    providers = bar_list(
        [(r["provider"] or "(none)", cost(r), detail(r)) for r in summary.by_provider]
    )
    models = bar_list(
        [(f"{r['provider']}/{r['model']}", cost(r), detail(r)) for r in summary.by_model[:12]]
    )
    users = top_users(start, end, limit=10)
    user_bars = bar_list([(u["username"], cost(u), detail(u)) for u in users])
    totals = summary.totals
    return {
        "days": days,
        "periods": PERIODS,
        "start": start,
        "end": end,
        "totals": totals,
        "shown": {
            "requests": f"{totals['requests']:,}",
            "streamed": f"{totals['streamed']:,}",
            "tokens": count(totals["total_tokens"]),
            "prompt": count(totals["prompt_tokens"]),
            "completion": count(totals["completion_tokens"]),
            "errors": f"{totals['errors']:,}",
            "cancelled": f"{totals['cancelled']:,}",
            "unknown": f"{totals['cost_unknown_requests']:,}",
        },
        "avg_latency": (totals["latency_ms_sum"] / totals["requests"]) if totals["requests"] else 0,
        "spend_chart": spend,
        "tokens_chart": tokens,
        "requests_chart": requests,
        "provider_bars": providers,
        "model_bars": models,
        "user_bars": user_bars,
        "top_users": [
            {**u, "url": _changelist(user_id=u["user"]) if u["user"] else ""} for u in users
        ],
        "unpriced": unpriced_models(days),
        "money": money,
    }


def _safe_url(url: str | None) -> str:
    """A base URL fit to show: no credentials, query or fragment (a proxy may carry a key)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def provider_rows() -> list[dict[str, Any]]:
    """Each provider: configured or not, which setting holds its key (never the key), base URL,
    default model. Reading the provider class is best effort (its SDK may be missing)."""
    rows = []
    default_provider = ai_settings.AI_DEFAULT_PROVIDER
    for name, path in PROVIDER_CLASSES.items():
        try:
            default_model = import_string(path).default_model
        except Exception:
            default_model = ""
        if name == default_provider and ai_settings.AI_DEFAULT_MODEL:
            default_model = ai_settings.AI_DEFAULT_MODEL
        key_setting = API_KEY_SETTINGS.get(name)
        base_setting = BASE_URL_SETTINGS.get(name)
        base_url = _safe_url(getattr(ai_settings, base_setting)) if base_setting else ""
        rows.append(
            {
                "name": name,
                "configured": is_configured(name),
                "is_default": name == default_provider,
                "key_setting": key_setting or "(none needed)",
                "enable_setting": "AI_OFFLINE_ENABLED" if name == "offline" else key_setting,
                "base_url": base_url or ("(vendor default)" if base_setting else "(no network)"),
                "base_url_setting": base_setting or "",
                "default_model": default_model,
                "usage_url": _changelist(provider=name),
            }
        )
    for name, declaration in compatible_providers().items():  # declared in settings
        rows.append(
            {
                "name": name,
                "configured": is_configured(name),
                "is_default": name == default_provider,
                "key_setting": f"AI_PROVIDERS[{name!r}]['api_key'] or {env_name(name, '_API_KEY')}",
                "enable_setting": f"AI_PROVIDERS[{name!r}]['base_url']",
                "base_url": _safe_url(declaration.base_url or ""),
                "base_url_setting": f"AI_PROVIDERS[{name!r}]['base_url']",
                "default_model": declaration.default_model or "",
                "usage_url": _changelist(provider=name),
            }
        )
    return rows


def status_badge(status: str) -> str:
    return format_html('<span class="ai-badge ai-status-{}">{}</span>', status, status)
