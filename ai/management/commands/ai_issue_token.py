"""``manage.py ai_issue_token USERNAME [--create]``: print a JWT access + refresh token.

For a newcomer's first ``curl`` and for scripts::

    TOKEN=$(python manage.py ai_issue_token alice --create --access-only)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/app/ai/status

A user created here gets an unusable password (there is no default password anywhere): it can
use the tokens printed here and refresh them; set a password with ``changepassword`` to use
``/api/v1/auth/token/`` too.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
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

    def handle(self, *args: Any, username: str, create: bool, access_only: bool, **options: Any):
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
            "\nUse it:  curl -H 'Authorization: Bearer <access>' "
            "http://127.0.0.1:8000/api/v1/app/ai/status"
        )
