"""Delete ledger rows older than N days, in batches, after rolling their days up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Min
from django.utils import timezone

from ai.usage.rollup import day_bounds, days_between, local_today, rollup_day


class Command(BaseCommand):
    help = (
        "Delete usage records older than --days N whole days (today is kept, plus the N days "
        "before it). Their days are rolled up first, so dashboards and reports keep the "
        "totals; --rollups also deletes the roll-up of those days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, required=True, help="Days of records to keep.")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--dry-run", action="store_true", help="Count; delete nothing.")
        parser.add_argument(
            "--no-rollup", action="store_true", help="Do not roll days up before deleting."
        )
        parser.add_argument(
            "--rollups", action="store_true", help="Also delete the roll-up of pruned days."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from ai.models import UsageDaily, UsageDailyModel, UsageRecord, UsageRollupDay

        days, batch = options["days"], options["batch_size"]
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if batch < 1:
            raise CommandError("--batch-size must be at least 1.")
        first_kept = local_today() - timedelta(days=days)
        cutoff = day_bounds(first_kept)[0]
        old = UsageRecord.objects.filter(created_at__lt=cutoff)
        oldest = old.aggregate(first=Min("created_at"))["first"]
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {old.count()} records before {cutoff:%Y-%m-%d %H:%M %Z}")
            return
        pruned_days = []
        if oldest is not None:
            oldest_day = timezone.localtime(oldest, timezone.get_default_timezone()).date()
            pruned_days = days_between(oldest_day, first_kept - timedelta(days=1))
            if not options["no_rollup"]:
                complete = set(
                    UsageRollupDay.objects.filter(
                        day__gte=oldest_day, day__lt=first_kept, complete=True
                    ).values_list("day", flat=True)
                )
                for day in pruned_days:
                    if day not in complete:
                        rollup_day(day)
        deleted = 0
        while True:
            ids = list(old.order_by().values_list("id", flat=True)[:batch])
            if not ids:
                break
            deleted += UsageRecord.objects.filter(id__in=ids).delete()[0]
        if pruned_days:
            UsageRollupDay.objects.filter(day__gte=pruned_days[0], day__lt=first_kept).update(
                pruned=True
            )
        if options["rollups"]:
            UsageDaily.objects.filter(day__lt=first_kept).delete()
            UsageDailyModel.objects.filter(day__lt=first_kept).delete()
            UsageRollupDay.objects.filter(day__lt=first_kept).delete()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {deleted} usage records before {cutoff:%Y-%m-%d %H:%M %Z}."
            )
        )
