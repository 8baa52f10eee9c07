"""The gateway's tables: the usage ledger and its daily roll-up, prices, and the routing table.

``UsageRecord`` is append-only and grows to millions of rows, so its indexes are chosen for the
queries that actually run (see each index's comment) and nothing orders it by default.
``ModelPrice`` keeps history: a new row with a later ``valid_from`` changes the price from then
on; a row's cost is frozen when the row is written, so no price edit rewrites a past request.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from ai.providers.base import USAGE_ESTIMATED, USAGE_REPORTED, ModelComplexity


def provider_choices() -> list[tuple[str, str]]:
    """Every provider the app knows (a callable, so adding one needs no migration)."""
    from ai.services.factory import provider_names

    return [(name, name) for name in provider_names()]


class UsageRecord(models.Model):
    """One gateway request, whatever its outcome. Written by :mod:`ai.usage.writer` only."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        REPORTED = USAGE_REPORTED, "Reported by the provider"
        ESTIMATED = USAGE_ESTIMATED, "Estimated (stream cut before the provider reported)"
        NONE = "none", "No usage (no upstream call)"

    created_at = models.DateTimeField(default=timezone.now)
    request_id = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ai_usage_records",
        # (user, created_at) below serves every per-user query; a lone user_id index would
        # only slow the inserts down.
        db_index=False,
    )
    endpoint = models.CharField(max_length=64)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=128, blank=True)
    complexity = models.CharField(max_length=16, blank=True)
    streamed = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices)
    error_code = models.CharField(max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    # db_default: processes still on the code before the column (a rolling deploy) insert rows
    # without it.
    cache_write_tokens = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Prompt tokens written to the vendor's prompt cache (Anthropic's cache_control "
        "breakpoints), billed above input; part of the prompt tokens.",
    )
    usage_source = models.CharField(max_length=16, choices=Source.choices, default=Source.NONE)
    cost = models.DecimalField(
        max_digits=18,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="USD at the price in effect when the request was made. Empty: price unknown.",
    )
    latency_ms = models.PositiveIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name="time to first token (ms)"
    )
    upstream_request_id = models.CharField(max_length=128, blank=True)
    priced_model = models.CharField(
        max_length=128,
        blank=True,
        help_text="Set when the cost is that of the model asked for: the model the upstream "
        "reported (an alias or a dated snapshot) has no price.",
    )
    api_key = models.ForeignKey(
        "ai.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage_records",
        help_text="The gateway API key the request came with; empty for a JWT.",
        # The partial (api_key, created_at) index below serves the per-key queries.
        db_index=False,
    )
    routing = models.CharField(
        max_length=512,
        blank=True,
        help_text="How the request was routed, as its x-ai-route header said: complexity or "
        "route, then each target reached and what happened (ok, not_configured, not_allowed, "
        "cooldown, or the error's code).",
    )

    class Meta:
        verbose_name = "usage record"
        indexes = [
            # The usage API and per-user reports: WHERE user_id = ? AND created_at BETWEEN ...
            models.Index(fields=["user", "created_at"], name="ai_usage_user_time"),
            # Per provider/model over time (admin filters, reports, roll-up checks).
            models.Index(fields=["provider", "model", "created_at"], name="ai_usage_model_time"),
            # The admin list (newest first), date hierarchy, roll-up and retention by day.
            models.Index(fields=["created_at"], name="ai_usage_time"),
            # A complaint's X-Request-ID -> its row (admin search). Declared here rather than
            # db_index=True, which on PostgreSQL adds a second, LIKE-only index to every insert.
            models.Index(fields=["request_id"], name="ai_usage_request"),
            # "Errors / cancellations lately" without scanning the ok rows.
            models.Index(fields=["status", "created_at"], name="ai_usage_status_time"),
            # The admin's "price unknown" filter: a tiny partial index of unpriced rows.
            models.Index(
                fields=["created_at"], condition=Q(cost__isnull=True), name="ai_usage_unpriced"
            ),
            # Usage per API key (usage API, admin filter); JWT rows stay out of it.
            models.Index(
                fields=["api_key", "created_at"],
                condition=Q(api_key__isnull=False),
                name="ai_usage_key_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.provider}/{self.model} {self.status}"


class _DailySums(models.Model):
    """The summed columns of the two roll-up tables."""

    day = models.DateField()
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=UsageRecord.Status.choices)
    requests = models.PositiveIntegerField(default=0)
    streamed_requests = models.PositiveIntegerField(default=0)
    estimated_requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    cached_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0, db_default=0)
    #: Sum over the rows whose cost is known; ``cost_unknown_requests`` counts the others.
    cost = models.DecimalField(max_digits=20, decimal_places=10, default=0)
    cost_unknown_requests = models.PositiveIntegerField(default=0)
    latency_ms_sum = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageDaily(_DailySums):
    """The ledger summed per day, user, provider, model and status (``ai_rollup_usage``).

    The usage API, per-user reports and "top users" read whole, rolled-up days from here and
    only the remaining days from :class:`UsageRecord`; rows survive ``ai_prune_usage`` so
    history outlives retention.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = "daily usage per user"
        verbose_name_plural = "daily usage per user"
        indexes = [
            models.Index(fields=["day"], name="ai_daily_day"),
            models.Index(fields=["user", "day"], name="ai_daily_user_day"),
            models.Index(fields=["provider", "model", "day"], name="ai_daily_model_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.provider}/{self.model} {self.status}"


class UsageDailyModel(_DailySums):
    """The same sums over all users: per day, provider, model and status. A few dozen rows a
    day however many users there are, so all-users dashboards and admin totals stay fast."""

    class Meta:
        verbose_name = "daily usage per model"
        verbose_name_plural = "daily usage per model"
        indexes = [models.Index(fields=["day", "provider", "model"], name="ai_dailym_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.provider}/{self.model} {self.status}: {self.requests}"


class UsageRollupDay(models.Model):
    """Which days :class:`UsageDaily` holds, and whether the day was over when it was computed
    (only ``complete`` days are read from the roll-up; the rest come from the ledger)."""

    day = models.DateField(primary_key=True)
    computed_at = models.DateTimeField()
    complete = models.BooleanField(default=False)
    records = models.PositiveIntegerField(default=0)
    #: Ledger rows of this day were deleted by ``ai_prune_usage``: the roll-up is now the only
    #: record of the day, so it is never recomputed (that would sum what is left).
    pruned = models.BooleanField(default=False)

    class Meta:
        verbose_name = "rolled-up day"

    def __str__(self) -> str:
        return f"{self.day} ({'complete' if self.complete else 'partial'})"


class ModelPrice(models.Model):
    """A model's list price from ``valid_from`` on, in USD per million tokens."""

    class Source(models.TextChoices):
        SHIPPED = "shipped", "Shipped default (ai/data/prices.json)"
        ADMIN = "admin", "Set by an administrator"

    provider = models.CharField(max_length=32, choices=provider_choices)
    model = models.CharField(max_length=128)
    input_per_mtok = models.DecimalField(
        "input $/1M", max_digits=12, decimal_places=6, help_text="USD per million input tokens."
    )
    output_per_mtok = models.DecimalField(
        "output $/1M",
        max_digits=12,
        decimal_places=6,
        help_text="USD per million output tokens (reasoning tokens included).",
    )
    cached_input_per_mtok = models.DecimalField(
        "cached input $/1M",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="USD per million cached input tokens. Empty: charged at the input price.",
    )
    valid_from = models.DateTimeField(
        default=timezone.now,
        help_text="The price applies to requests made from this moment until the next price.",
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ADMIN)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "model price"
        ordering = ["provider", "model", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "valid_from"], name="ai_price_unique_from"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.valid_from:%Y-%m-%d}"


class RouteTarget(models.Model):
    """One target of a complexity's route. The router tries enabled targets by ``position``;
    a complexity with none enabled uses the code defaults (``ai.services.router``)."""

    complexity = models.CharField(
        max_length=16, choices=[(c.value, c.name.title()) for c in ModelComplexity]
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Lower is tried first; 0 is the primary target."
    )
    provider = models.CharField(max_length=32, choices=provider_choices)
    model = models.CharField(max_length=128)
    enabled = models.BooleanField(default=True)
    cost_per_1k_tokens = models.DecimalField(
        "blended $/1K (estimate)",
        max_digits=12,
        decimal_places=8,
        default=0,
        help_text="The spec's rough estimate, for display; the ledger prices from model prices.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "route target"
        ordering = ["complexity", "position", "id"]

    def __str__(self) -> str:
        return f"{self.complexity} #{self.position}: {self.provider}/{self.model}"


class ProviderStatus(models.Model):
    """No table: gives the admin its read-only "Providers" page (``ai.admin``)."""

    class Meta:
        managed = False
        db_table = "ai_provider_status_unmanaged"
        verbose_name = "provider"
        verbose_name_plural = "providers"


class UsageDashboard(models.Model):
    """No table: gives the admin its usage dashboard page (``ai.admin``)."""

    class Meta:
        managed = False
        db_table = "ai_usage_dashboard_unmanaged"
        verbose_name = "usage dashboard"
        verbose_name_plural = "usage dashboard"


class ApiKey(models.Model):
    """A gateway API key: ``aig_<prefix>_<secret>``, sent as ``Authorization: Bearer``,
    ``x-api-key`` or ``x-goog-api-key`` (``ai.api.key_auth``). Only the SHA-256 of the full key
    is stored; the key itself is shown once, when it is made (:meth:`issue`)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ai_api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, unique=True, editable=False, help_text="aig_ and 8 characters: not secret."
    )
    secret_hash = models.CharField("SHA-256 of the key", max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from this moment on. Empty: never expires."
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Updated at most once a minute."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    allowed_models = models.JSONField(
        default=list,
        blank=True,
        help_text='Empty: every model. Else a list of "provider/model", a model name, '
        '"provider/*", or a route (simple, moderate, complex, search).',
    )
    rpm = models.PositiveIntegerField(
        "requests per minute", null=True, blank=True, help_text="Empty: no limit of its own."
    )
    tpm = models.PositiveIntegerField(
        "tokens per minute", null=True, blank=True, help_text="Empty: no limit of its own."
    )
    daily_budget_usd = models.DecimalField(
        "daily budget (USD)", max_digits=12, decimal_places=4, null=True, blank=True
    )
    monthly_budget_usd = models.DecimalField(
        "monthly budget (USD)", max_digits=12, decimal_places=4, null=True, blank=True
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "created_at"], name="ai_key_owner")]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> ApiKey:
        key = super().from_db(db, field_names, values)
        # The owner as loaded: a key given to another user revokes both (_api_key_changed).
        key._loaded_owner_id = key.__dict__.get("owner_id")
        return key

    @property
    def state(self) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def set_new_secret(self) -> str:
        """Give this (unsaved) key a fresh prefix and secret; returns the full key, which
        exists nowhere else (only its hash is kept)."""
        from ai.keys import generate_key, hash_key

        full_key, self.prefix = generate_key()
        self.secret_hash = hash_key(full_key)
        return full_key

    @classmethod
    def issue(cls, owner: Any, name: str, **fields: Any) -> tuple[ApiKey, str]:
        """Create and save a key; returns it and the full key (shown once, never stored)."""
        key = cls(owner=owner, name=name, **fields)
        for attempt in range(3):
            full_key = key.set_new_secret()
            try:
                with transaction.atomic():
                    key.save(force_insert=True)
                return key, full_key
            except IntegrityError:  # one prefix in 36**8 taken: draw again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _api_key_changed(*, instance: ApiKey, using: str, **kwargs: object) -> None:
    """A saved or deleted key: every process looks it up again before its next use. A key is
    checked against its owner's revocation marker (``ai.api.revocation``), so this writes the
    owner's (both owners' when the key changed hands): one marker read per request covers the
    key and its owner. Connected here, so any process that loads the models publishes it."""
    from ai.api.revocation import revoke_user

    owners = {instance.owner_id, getattr(instance, "_loaded_owner_id", None)} - {None}
    for owner_id in owners:
        revoke_user(owner_id)
        transaction.on_commit(partial(revoke_user, owner_id), using=using, robust=True)
    instance._loaded_owner_id = instance.owner_id  # the owner as saved, for the next save


post_save.connect(_api_key_changed, sender=ApiKey, dispatch_uid="ai.ApiKey.changed")
post_delete.connect(_api_key_changed, sender=ApiKey, dispatch_uid="ai.ApiKey.deleted")


class UserLimits(models.Model):
    """A user's own rate limits and budgets (``ai.governance``), replacing the ``AI_DEFAULT_*``
    settings field by field; or an exemption from them. Staff are limited like everyone else:
    only ``exempt`` lifts the limits, and it is shown in the admin's list."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="ai_limits",
    )
    exempt = models.BooleanField(
        "exempt from limits and budgets",
        default=False,
        help_text="Lifts default and user limits and budgets; a key's own stay.",
    )
    rpm = models.PositiveIntegerField(
        "requests per minute", null=True, blank=True, help_text="Empty: AI_DEFAULT_RPM."
    )
    tpm = models.PositiveIntegerField(
        "tokens per minute", null=True, blank=True, help_text="Empty: AI_DEFAULT_TPM."
    )
    daily_budget_usd = models.DecimalField(
        "daily budget (USD)",
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="UTC days. Empty: AI_DEFAULT_DAILY_BUDGET_USD.",
    )
    monthly_budget_usd = models.DecimalField(
        "monthly budget (USD)",
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="UTC calendar months. Empty: AI_DEFAULT_MONTHLY_BUDGET_USD.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "user limits"
        verbose_name_plural = "user limits"

    def __str__(self) -> str:
        return f"limits of {self.user}"
