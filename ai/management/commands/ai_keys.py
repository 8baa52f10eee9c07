"""``manage.py ai_keys create|list|revoke``: gateway API keys from the command line.

::

    KEY=$(python manage.py ai_keys create --user alice --name ci --models gpt-4o-mini,simple \\
          --rpm 60 --budget-usd 20 --expires-in 2592000 | tail -n 1)
    curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/api/v1/app/ai/status
    python manage.py ai_keys list --user alice
    python manage.py ai_keys revoke aig_1a2b3c4d

``create`` prints the full key alone on the last line of stdout, once: only its SHA-256 is
stored. ``list`` never shows a secret. ``revoke`` refuses the key on its next request in every
process sharing ``AI_AUTH_CACHE``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ai.keys import clean_models


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise CommandError(f"{value!r}: expected a whole number of at least 1.")
    return number


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e8"):
        raise CommandError(f"{value!r}: expected an amount in USD above 0, e.g. 25 or 2.50.")
    return amount.quantize(Decimal("0.0001"))


class Command(BaseCommand):
    help = "Create, list and revoke gateway API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it (once).")
        create.add_argument("--user", required=True, help="The owner's username.")
        create.add_argument("--name", required=True, help="What the key is for.")
        create.add_argument(
            "--models",
            default="",
            help="Comma-separated models, provider/model, provider/* or routes (simple, "
            "moderate, complex, search) the key may use. Default: all.",
        )
        create.add_argument("--rpm", type=_positive_int, help="Requests per minute.")
        create.add_argument("--tpm", type=_positive_int, help="Tokens per minute.")
        create.add_argument("--budget-usd", type=_usd, help="Monthly budget in USD.")
        create.add_argument("--daily-budget-usd", type=_usd, help="Daily budget in USD.")
        create.add_argument(
            "--expires-in", type=_positive_int, metavar="SECONDS", help="Expire after SECONDS."
        )
        listing = actions.add_parser("list", help="List keys (never their secret).")
        listing.add_argument("--user", help="Only this user's keys.")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix", help="The key's prefix, aig_ and 8 characters.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _user(self, username: str) -> Any:
        model = get_user_model()
        try:
            return model.objects.get(**{model.USERNAME_FIELD: username})
        except model.DoesNotExist as err:
            raise CommandError(f"No user {username!r}.") from err

    def _create(
        self,
        *,
        user: str,
        name: str,
        models: str,
        rpm: int | None,
        tpm: int | None,
        budget_usd: Decimal | None,
        daily_budget_usd: Decimal | None,
        expires_in: int | None,
        **options: Any,
    ) -> None:
        from ai.models import ApiKey

        owner = self._user(user)
        if not name.strip():
            raise CommandError("--name must not be blank.")
        try:
            allowed = clean_models(models.split(","))
        except ValueError as err:
            raise CommandError(f"--models: {err}") from err
        expires_at = timezone.now() + timedelta(seconds=expires_in) if expires_in else None
        key, full_key = ApiKey.issue(
            owner,
            name.strip()[:100],
            allowed_models=allowed,
            rpm=rpm,
            tpm=tpm,
            monthly_budget_usd=budget_usd,
            daily_budget_usd=daily_budget_usd,
            expires_at=expires_at,
        )
        self.stderr.write(
            f"Created API key {key.prefix} ({key.name!r}) for {user}. It is shown once, on the "
            "next line; only its hash is stored."
        )
        self.stdout.write(full_key)

    def _list(self, *, user: str | None, **options: Any) -> None:
        from ai.models import ApiKey

        keys = ApiKey.objects.select_related("owner").order_by("owner_id", "-created_at")
        if user:
            keys = keys.filter(owner=self._user(user))
        rows = [("PREFIX", "OWNER", "NAME", "STATE", "LAST USED")]
        for key in keys:
            last = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
            rows.append((key.prefix, key.owner.get_username(), key.name, key.state, last))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[4]]))

    def _revoke(self, *, prefix: str, **options: Any) -> None:
        from ai.models import ApiKey

        try:
            key = ApiKey.objects.get(prefix=prefix.strip())
        except ApiKey.DoesNotExist as err:
            raise CommandError(f"No API key {prefix!r} (see `ai_keys list`).") from err
        if key.revoked_at is not None:
            self.stdout.write(
                f"{key.prefix} was already revoked at {key.revoked_at:%Y-%m-%d %H:%M}."
            )
            return
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])  # post_save: refused everywhere on next use
        self.stdout.write(f"Revoked {key.prefix} ({key.name!r}, owner {key.owner.get_username()}).")
