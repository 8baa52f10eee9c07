"""Prepare the gateway's database for a benchmark and print a JWT for the bench user.

Run with the gateway's environment (bench/run.py does): migrates, creates the user ``bench`` if
missing and prints ``{"token": "...", "user_id": N, "usage_rows": N}`` as one JSON line.
``--count-usage`` only prints the usage row count (to check that requests were recorded).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")


def usage_rows() -> int | None:
    """Rows in the app's usage ledger, or None while the app has no usage model."""
    from django.apps import apps

    for model in apps.get_app_config("ai").get_models():
        if "usage" in model.__name__.lower():
            return model.objects.count()
    return None


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    if "--count-usage" in sys.argv:
        print(json.dumps({"usage_rows": usage_rows()}))
        return
    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
    from rest_framework_simplejwt.tokens import RefreshToken

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"email": "bench@example.invalid"}
    )
    token = str(RefreshToken.for_user(user).access_token)
    if "--limited-key" in sys.argv:
        # bench/run.py --everything-on: a gateway API key with its own rpm, tpm and budgets,
        # all too large to refuse the benchmark, instead of the JWT.
        from decimal import Decimal

        from ai.models import ApiKey

        _, token = ApiKey.issue(
            user,
            "bench everything on",
            rpm=100_000_000,
            tpm=2_000_000_000,
            daily_budget_usd=Decimal(1_000_000),
            monthly_budget_usd=Decimal(10_000_000),
        )
    print(json.dumps({"token": token, "user_id": user.pk, "usage_rows": usage_rows()}))


if __name__ == "__main__":
    main()
