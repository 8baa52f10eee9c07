"""The gateway in Django's admin: the usage ledger (read-only), prices (editable, with history),
the routing table (editable; the router picks changes up without a restart), the providers'
configuration (read-only, never a key) and a usage dashboard with charts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from ai.models import (
    ApiKey,
    ModelPrice,
    ProviderStatus,
    RouteTarget,
    UsageDashboard,
    UsageRecord,
    UserLimits,
)
from ai.usage.admin_queries import (
    COUNT_CAP,
    CappedCountPaginator,
    LedgerQuerySet,
    rollup_totals,
)
from ai.usage.charts import money
from ai.usage.dashboard import (
    PERIODS,
    build_dashboard,
    provider_rows,
    status_badge,
    unpriced_models,
)
from ai.usage.pricing import get_price_book
from ai.usage.reports import aggregate
from ai.usage.rollup import local_today

CSS = {"all": ["ai/admin.css"]}


# --- usage records ---------------------------------------------------------------------------
# The list filters take their choices from the roll-up and recent rows, never from a DISTINCT
# over the whole ledger (millions of rows).


def _recent(by: tuple[str, ...], days: int = 30) -> list[dict[str, Any]]:
    end = local_today()
    return aggregate(end - timedelta(days=days - 1), end, by)


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from ai.models import provider_choices

        return provider_choices()

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(provider=self.value()) if self.value() else queryset


class ModelFilter(admin.SimpleListFilter):
    title = "model (used in the last 30 days)"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        models = sorted({r["model"] for r in _recent(("provider", "model")) if r["model"]})
        if self.value() and self.value() not in models:
            models.append(self.value())
        return [(m, m) for m in models]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(model=self.value()) if self.value() else queryset


class UserFilter(admin.SimpleListFilter):
    title = "user (top 30 this month)"
    parameter_name = "user_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from django.contrib.auth import get_user_model

        rows = sorted(_recent(("user",)), key=lambda r: -r["requests"])[:30]
        ids = [r["user"] for r in rows if r["user"] is not None]
        if self.value() and self.value().isdigit() and int(self.value()) not in ids:
            ids.append(int(self.value()))
        User = get_user_model()
        names = dict(User.objects.filter(pk__in=ids).values_list("pk", User.USERNAME_FIELD))
        return [(str(i), names.get(i, f"#{i}")) for i in ids]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(user_id=int(value))
        return queryset


class ApiKeyFilter(admin.SimpleListFilter):
    title = "API key (30 last used)"
    parameter_name = "api_key"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        keys = list(
            ApiKey.objects.filter(last_used_at__isnull=False)
            .order_by("-last_used_at")
            .values_list("pk", "prefix", "name")[:30]
        )
        value = self.value()
        if value and value.isdigit() and int(value) not in {k[0] for k in keys}:
            keys += ApiKey.objects.filter(pk=int(value)).values_list("pk", "prefix", "name")
        return [("none", "none (JWT)"), *((str(pk), f"{p} ({n})") for pk, p, n in keys)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if value == "none":
            return queryset.filter(api_key__isnull=True)
        if value and value.isdigit():
            return queryset.filter(api_key_id=int(value))
        return queryset


class PriceUnknownFilter(admin.SimpleListFilter):
    title = "cost"
    parameter_name = "cost"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("unknown", "price unknown"), ("known", "priced")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "unknown":
            return queryset.filter(cost__isnull=True)
        if self.value() == "known":
            return queryset.filter(cost__isnull=False)
        return queryset


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "request_id",
        "user",
        "endpoint",
        "target",
        "status_display",
        "prompt_tokens",
        "completion_tokens",
        "cost_display",
        "latency_ms",
        "ttft_ms",
        "usage_source",
        "streamed",
        "api_key",
    )
    list_filter = (
        ProviderFilter,
        ModelFilter,
        "status",
        PriceUnknownFilter,
        "usage_source",
        "streamed",
        UserFilter,
        ApiKeyFilter,
        "created_at",
    )
    # An exact, case-sensitive match uses the request_id index ("=request_id" is iexact:
    # UPPER(request_id) = UPPER(...), a whole-table scan).
    search_fields = ("request_id__exact",)
    search_help_text = "The exact request id (the X-Request-ID response header)."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    list_select_related = ("user", "api_key")
    list_per_page = 100
    # No COUNT(*) over the whole unfiltered ledger on every page; the filtered count is capped.
    show_full_result_count = False
    paginator = CappedCountPaginator

    class Media:
        css = CSS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        qs = super().get_queryset(request)
        return LedgerQuerySet(qs.model, query=qs.query, using=qs._db, hints=qs._hints)

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        return super().get_search_results(request, queryset, search_term.strip().strip('"'))

    @admin.display(description="provider / model", ordering="model")
    def target(self, obj: UsageRecord) -> str:
        return f"{obj.provider}/{obj.model}" if obj.provider else obj.model or "-"

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: UsageRecord) -> str:
        badge = status_badge(obj.status)
        if obj.error_code:
            return format_html("{} <small>{}</small>", badge, obj.error_code)
        return badge

    @admin.display(description="cost (USD)", ordering="cost")
    def cost_display(self, obj: UsageRecord) -> str:
        if obj.cost is None:
            return format_html('<span class="ai-badge ai-unknown">{}</span>', "price unknown")
        if obj.priced_model:
            return format_html(
                "{} <small>priced as {}</small>", f"{obj.cost:.6f}", obj.priced_model
            )
        return f"{obj.cost:.6f}"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        cl = context.get("cl") if response.status_code == 200 else None
        if cl is not None:
            totals = rollup_totals(request.GET.dict())
            if totals is None:  # a filter only the rows can answer: sum them
                totals = self._sum_rows(cl.queryset)
            response.context_data["ledger_totals"] = totals
            response.context_data["count_cap"] = COUNT_CAP
        return response

    @staticmethod
    def _sum_rows(queryset: Any) -> dict[str, Any]:
        sums = queryset.order_by().aggregate(
            # Named apart from the fields: an aggregate may not shadow one.
            t_requests=Count("id"),
            t_prompt_tokens=Sum("prompt_tokens"),
            t_completion_tokens=Sum("completion_tokens"),
            t_total_tokens=Sum("total_tokens"),
            t_cost=Sum("cost"),
            t_unknown=Count("id", filter=Q(cost__isnull=True)),
            t_errors=Count("id", filter=Q(status="error")),
            t_cancelled=Count("id", filter=Q(status="cancelled")),
        )
        return {name.removeprefix("t_"): value for name, value in sums.items()}


# --- prices ----------------------------------------------------------------------------------


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = (
        "provider",
        "model",
        "input_per_mtok",
        "cached_input_per_mtok",
        "output_per_mtok",
        "valid_from",
        "in_effect",
        "source",
        "note",
    )
    list_filter = ("provider", "source")
    search_fields = ("model",)
    ordering = ("provider", "model", "-valid_from")
    readonly_fields = ("history", "source", "updated_at")
    fieldsets = (
        (None, {"fields": ("provider", "model", "valid_from")}),
        (
            "Price in USD per million tokens",
            {"fields": ("input_per_mtok", "cached_input_per_mtok", "output_per_mtok")},
        ),
        (None, {"fields": ("note", "source", "updated_at")}),
        ("History of this model's price", {"fields": ("history",)}),
    )

    class Media:
        css = CSS

    @admin.display(boolean=True, description="in effect now")
    def in_effect(self, obj: ModelPrice) -> bool:
        current = get_price_book().price_at(obj.provider, obj.model)
        return current is not None and current.valid_from == obj.valid_from

    @admin.display(description="history")
    def history(self, obj: ModelPrice) -> str:
        if obj.pk is None:
            return "-"
        rows = ModelPrice.objects.filter(provider=obj.provider, model=obj.model).order_by(
            "-valid_from"
        )
        body = format_html_join(
            "",
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    format_html(' class="{}"', "ai-current") if p.pk == obj.pk else "",
                    p.valid_from.strftime("%Y-%m-%d %H:%M"),
                    p.input_per_mtok,
                    "-" if p.cached_input_per_mtok is None else p.cached_input_per_mtok,
                    p.output_per_mtok,
                    p.get_source_display(),
                    p.note,
                )
                for p in rows
            ),
        )
        return format_html(
            '<table class="ai-history"><tr><th>valid from</th><th>input</th><th>cached input'
            "</th><th>output</th><th>source</th><th>note</th></tr>{}</table>"
            '<p class="help">Each request keeps the cost computed when it was recorded; '
            "to change a price from a date on, add a new price with that date.</p>",
            body,
        )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {k: request.GET[k] for k in ("provider", "model") if k in request.GET}

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: Any, change: bool) -> None:
        obj.source = ModelPrice.Source.ADMIN
        super().save_model(request, obj, form, change)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "unpriced": unpriced_models(30)}
        return super().changelist_view(request, extra)


# --- routes ----------------------------------------------------------------------------------


@admin.register(RouteTarget)
class RouteTargetAdmin(admin.ModelAdmin):
    list_display = ("__str__", "complexity", "position", "provider", "model", "enabled")
    list_editable = ("position", "provider", "model", "enabled")
    list_filter = ("complexity", "enabled", "provider")
    ordering = ("complexity", "position", "id")
    fields = ("complexity", "position", "provider", "model", "enabled", "cost_per_1k_tokens")

    class Media:
        css = CSS

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        from ai.routing import effective_routes

        extra = {**(extra_context or {}), "effective_routes": effective_routes()}
        return super().changelist_view(request, extra)


# --- pages without a table -------------------------------------------------------------------


class _PageAdmin(admin.ModelAdmin):
    """A single read-only admin page in the model list (no table behind it)."""

    template: str = ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        opts = self.model._meta
        view = self.admin_site.admin_view(self.changelist_view)  # staff only, else login
        return [path("", view, name=f"{opts.app_label}_{opts.model_name}_changelist")]

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        raise NotImplementedError

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": self.model._meta.verbose_name_plural.capitalize(),
            "media": self.media,
            **self.page_context(request),
        }
        return TemplateResponse(request, self.template, context)


@admin.register(ProviderStatus)
class ProviderStatusAdmin(_PageAdmin):
    template = "admin/ai/providers.html"

    class Media:
        css = CSS

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        return {"providers": provider_rows()}


@admin.register(UsageDashboard)
class UsageDashboardAdmin(_PageAdmin):
    template = "admin/ai/dashboard.html"

    class Media:
        css = CSS

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("ai.view_usagerecord")

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        days = days if days in PERIODS else 30
        context = build_dashboard(days)
        context["spend"] = money(context["totals"]["cost"])
        return context


@admin.register(UserLimits)
class UserLimitsAdmin(admin.ModelAdmin):
    """Per-user rate limits and budgets (``ai.governance``), and exemptions: an exemption is
    this explicit flag, never implied by staff or superuser status."""

    list_display = (
        "user",
        "exempt",
        "rpm",
        "tpm",
        "daily_budget_usd",
        "monthly_budget_usd",
        "updated_at",
    )
    list_filter = ("exempt",)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    fieldsets = (
        (None, {"fields": ("user", "exempt")}),
        (
            "Rate limits (per minute; empty: the AI_DEFAULT_* setting)",
            {"fields": ("rpm", "tpm")},
        ),
        (
            "Budgets (USD, UTC days and months; empty: the AI_DEFAULT_* setting)",
            {"fields": ("daily_budget_usd", "monthly_budget_usd")},
        ),
    )


# --- API keys --------------------------------------------------------------------------------


class ApiKeyForm(forms.ModelForm):
    """``allowed_models`` as one comma-separated line instead of raw JSON."""

    allowed_models = forms.CharField(
        required=False,
        label="Allowed models",
        help_text=ApiKey._meta.get_field("allowed_models").help_text
        + " Comma-separated, e.g. gpt-4o-mini, anthropic/*, simple.",
        widget=forms.TextInput(attrs={"size": 80}),
    )

    class Meta:
        model = ApiKey
        fields = (
            "owner",
            "name",
            "expires_at",
            "allowed_models",
            "rpm",
            "tpm",
            "daily_budget_usd",
            "monthly_budget_usd",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["allowed_models"] = ", ".join(self.instance.allowed_models or [])

    def clean_allowed_models(self) -> list[str]:
        from ai.keys import clean_models

        try:
            return clean_models((self.cleaned_data.get("allowed_models") or "").split(","))
        except ValueError as err:
            raise forms.ValidationError(str(err)) from err


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Gateway API keys. A new key is shown once, on the page after saving it (rendered in that
    response, never stored: not in a message, a session or a log); only its hash is kept.
    Revoking (the action) or deleting a key refuses it on its next request in every process."""

    form = ApiKeyForm
    list_display = (
        "prefix",
        "name",
        "owner",
        "state_display",
        "created_at",
        "expires_at",
        "last_used_at",
        "models_display",
    )
    list_filter = ("created_at", "revoked_at", "expires_at")
    search_fields = ("prefix__exact", "name", "owner__username")
    search_help_text = "A key's prefix (aig_...), its name, or its owner's username."
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("prefix", "state_display", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_keys",)
    ordering = ("-created_at", "-id")

    class Media:
        css = CSS

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(self.form.Meta.fields)
        if obj is None:
            return fields
        return [*fields, *self.readonly_fields]

    @admin.display(description="state")
    def state_display(self, obj: ApiKey) -> str:
        css = {"active": "ok", "revoked": "error", "expired": "cancelled"}[obj.state]
        return format_html('<span class="ai-badge ai-status-{}">{}</span>', css, obj.state)

    @admin.display(description="allowed models")
    def models_display(self, obj: ApiKey) -> str:
        return ", ".join(obj.allowed_models) if obj.allowed_models else "all"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            # Only on this request object, for response_add; gone with the request.
            request._ai_new_api_key = obj.set_new_secret()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None):
        full_key = getattr(request, "_ai_new_api_key", None)
        if full_key is None or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"API key {obj.prefix} created",
            "key": obj,
            "full_key": full_key,
        }
        # The admin's views are never_cache (no-store): the page is not kept anywhere.
        return TemplateResponse(request, "admin/ai/apikey/created.html", context)

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: Any) -> None:
        from django.utils import timezone

        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])  # post_save: refused everywhere
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")
