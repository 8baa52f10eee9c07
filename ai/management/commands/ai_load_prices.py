"""Load the shipped model prices (ai/data/prices.json, or --file) into the price table. Offline."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ai.usage.price_data import PriceFileError, apply_prices, read_price_file


class Command(BaseCommand):
    help = (
        "Load model prices from the app's price list (or --file). Idempotent: adds missing "
        "prices, updates shipped ones that changed, keeps prices edited in the admin unless "
        "--force. Past requests keep the cost they were recorded with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", help="A price file in the same JSON format.")
        parser.add_argument(
            "--force", action="store_true", help="Also overwrite prices edited in the admin."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would change; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            specs = read_price_file(options["file"])
        except PriceFileError as err:
            raise CommandError(str(err)) from err
        result = apply_prices(specs, force=options["force"], dry_run=options["dry_run"])
        verbosity = options["verbosity"]
        for label, names in (
            ("created", result.created),
            ("updated", result.updated),
            ("kept (edited in the admin; --force to overwrite)", result.kept_admin),
        ):
            if verbosity >= 1 and names:
                self.stdout.write(f"{label}: {', '.join(names)}")
        prefix = "Dry run: " if options["dry_run"] else ""
        self.stdout.write(self.style.SUCCESS(f"{prefix}{len(specs)} prices: {result.summary()}"))
