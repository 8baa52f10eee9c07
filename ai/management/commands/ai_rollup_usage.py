"""Recompute the daily usage roll-up (idempotent). Run it from cron, e.g. every 15 minutes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ai.usage.rollup import days_between, local_today, rollup_days


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Recompute the daily usage roll-up for the given days (default: today and yesterday). "
        "Re-running is safe: each day's roll-up is replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=2, help="The last N days including today (default 2)."
        )
        parser.add_argument("--date", action="append", default=[], help="A day (repeatable).")
        parser.add_argument("--start", help="First day of a range (YYYY-MM-DD).")
        parser.add_argument("--end", help="Last day of a range (default: today).")
        parser.add_argument(
            "--force", action="store_true", help="Also recompute days whose ledger was pruned."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = local_today()
        if options["date"]:
            days = [_date(d) for d in options["date"]]
        elif options["start"]:
            start = _date(options["start"])
            end = _date(options["end"]) if options["end"] else today
            if end < start:
                raise CommandError("--end is before --start.")
            days = days_between(start, end)
        else:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1.")
            days = days_between(today - timedelta(days=options["days"] - 1), today)
        for rolled in rollup_days(days, force=options["force"]):
            if rolled.skipped:
                note = "skipped: ledger pruned (--force to recompute)"
            else:
                state = "complete" if rolled.complete else "partial"
                note = f"{rolled.records} requests in {rolled.groups} groups ({state})"
            if options["verbosity"] >= 1:
                self.stdout.write(f"{rolled.day}: {note}")
        self.stdout.write(self.style.SUCCESS(f"Rolled up {len(set(days))} day(s)."))
