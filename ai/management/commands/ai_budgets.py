"""``ai_budgets seed``: budget counters from the ledger, after the cache lost them."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "seed: raise each user's and key's budget counters (this UTC day and month, in the "
        "AI_LIMITS_CACHE cache) to their spend in the usage ledger. For a Redis that was "
        "restarted or flushed; the gateway itself never reads the ledger and starts a missing "
        "counter from 0."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["seed"])
        parser.add_argument(
            "--allow-local",
            action="store_true",
            help="Seed even when AI_LIMITS_CACHE is not Redis (only this process would see the "
            "counts: for tests).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from ai import governance
        from ai.governance.seed import ledger_spend, seed

        if not governance.shared() and not options["allow_local"]:
            raise CommandError(
                "AI_LIMITS_CACHE is not a Redis cache: each gateway process counts in its own "
                "memory, which this command cannot reach."
            )
        spends = ledger_spend()
        store = governance.get_store()

        async def run() -> int:
            try:
                return await seed(store, spends)
            finally:
                if governance.shared():
                    await store.aclose()  # type: ignore[union-attr]

        count = asyncio.run(run())
        self.stdout.write(f"seeded {count} budget counters from the ledger")
