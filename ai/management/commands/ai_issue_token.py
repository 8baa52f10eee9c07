"""``manage.py ai_issue_token USERNAME [--create]``: print a JWT access + refresh token.

For a newcomer's first ``curl`` and for scripts::

    TOKEN=$(python manage.py ai_issue_token alice --create --access-only)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/app/ai/status

The ``curl`` hint it prints uses the status URL as this project routes it (``ai.urls`` may be
mounted under a prefix) on ``--base-url``, by default ``http://$HOST:$PORT`` from the environment
(the variables ``run.sh`` serves on; 127.0.0.1 and 8000, runserver's default, when unset).

A user created here gets an unusable password (there is no default password anywhere): it can
use the tokens printed here and refresh them; set a password with ``changepassword`` to use
``/api/v1/auth/token/`` too.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse
from rest_framework_simplejwt.tokens import RefreshToken


class Command(BaseCommand):
    help = "Print a JWT access and refresh token for a user (creating the user with --create)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--create",
            action="store_true",
            help="Create the user if it does not exist (with an unusable password).",
        )
        parser.add_argument(
            "--access-only",
            action="store_true",
            help="Print only the access token, for TOKEN=$(...) in scripts.",
        )
        parser.add_argument(
            "--base-url",
            help="Where the gateway is served, for the printed curl example "
            "(default: http://$HOST:$PORT, or http://127.0.0.1:8000).",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        create: bool,
        access_only: bool,
        base_url: str | None = None,
        **options: Any,
    ):
        model = get_user_model()
        lookup = {model.USERNAME_FIELD: username}
        try:
            user = model._default_manager.get(**lookup)
        except model.DoesNotExist:
            if not create:
                raise CommandError(f"No user {username!r}. Pass --create to create it.") from None
            user = model._default_manager.create_user(**lookup, password=None)
            if not access_only:
                self.stderr.write(f"Created user {username!r} (unusable password).")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its tokens would be refused.")
        refresh = RefreshToken.for_user(user)
        if access_only:
            self.stdout.write(str(refresh.access_token))
            return
        self.stdout.write(f"access:  {refresh.access_token}")
        self.stdout.write(f"refresh: {refresh}")
        self.stdout.write(
            f"\nUse it:  curl -H 'Authorization: Bearer <access>' {status_url(base_url)}"
        )


def status_url(base_url: str | None = None) -> str:
    """The status endpoint's URL: its path as this project routes it, on ``base_url`` (default:
    ``http://$HOST:$PORT`` from the environment, a wildcard host meaning this machine)."""
    if not base_url:
        host = os.environ.get("HOST") or "127.0.0.1"
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):  # an IPv6 address
            host = f"[{host}]"
        base_url = f"http://{host}:{os.environ.get('PORT') or 8000}"
    try:
        path = reverse("ai:status")
    except NoReverseMatch:  # ai.urls not included (or under another namespace)
        path = "/api/v1/app/ai/status"
    return base_url.rstrip("/") + path
