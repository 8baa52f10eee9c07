"""A period's usage totals by user, provider, model (or day / status), as a table or CSV."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ai.usage.reports import GROUPS, aggregate
from ai.usage.rollup import local_today

COLUMNS = (
    "requests",
    "errors",
    "cancelled",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "total_tokens",
    "cost",
    "cost_unknown_requests",
)


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name}: not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Usage totals for a period (default: the last 30 days including today), grouped by "
        "user, provider and/or model. Costs are USD; cost_unknown_requests counts requests "
        "whose model has no price (their cost is not in the total)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", help="First day (YYYY-MM-DD).")
        parser.add_argument("--end", help="Last day, included (YYYY-MM-DD; default today).")
        parser.add_argument("--days", type=int, default=30, help="Without --start: last N days.")
        parser.add_argument(
            "--by",
            default="user",
            help=f"Comma-separated groups from: {', '.join(GROUPS)} (default: user). "
            "'model' implies 'provider'.",
        )
        parser.add_argument("--user", type=int, help="Only this user id.")
        parser.add_argument("--format", choices=("table", "csv"), default="table")
        parser.add_argument("--output", help="Write to this file instead of stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        end = _date(options["end"], "--end") if options["end"] else local_today()
        if options["start"]:
            start = _date(options["start"], "--start")
        else:
            if options["days"] < 1:
                raise CommandError("--days must be at least 1.")
            start = end - timedelta(days=options["days"] - 1)
        if end < start:
            raise CommandError("--end is before --start.")
        by = [g.strip() for g in options["by"].split(",") if g.strip()]
        bad = [g for g in by if g not in GROUPS]
        if bad or not by:
            raise CommandError(f"--by: unknown group {', '.join(bad)}; choose from {GROUPS}.")
        if "model" in by and "provider" not in by:
            by.insert(by.index("model"), "provider")
        rows = aggregate(start, end, by, user_id=options["user"])
        rows.sort(key=lambda r: (-(r["cost"] or 0), -r["total_tokens"], str(r)))
        header = [*by, *COLUMNS]
        if "user" in by:
            header.insert(by.index("user") + 1, "username")
            self._add_usernames(rows)
        precise = options["format"] == "csv"
        for row in rows:
            if row["cost_unknown_requests"] == row["requests"] and row["requests"]:
                row["cost"] = None  # nothing in the group is priced: unknown, not $0
        lines = [[self._cell(row.get(col), precise) for col in header] for row in rows]
        out = open(options["output"], "w", newline="") if options["output"] else None  # noqa: SIM115
        stream = out or self.stdout
        try:
            if options["format"] == "csv":
                writer = csv.writer(stream)
                writer.writerow(header)
                writer.writerows(lines)
            else:
                stream.write(f"Usage {start} .. {end} by {', '.join(by)}\n")
                totals = ["TOTAL", *[""] * (len(header) - len(COLUMNS) - 1)]
                totals += [
                    self._cell(sum((r[c] or 0 for r in rows), Decimal(0) if c == "cost" else 0))
                    for c in COLUMNS
                ]
                stream.write(self._table(header, [*lines, totals]))
        finally:
            if out is not None:
                out.close()

    @staticmethod
    def _add_usernames(rows: list[dict[str, Any]]) -> None:
        User = get_user_model()
        ids = [r["user"] for r in rows if r["user"] is not None]
        names = dict(User.objects.filter(pk__in=ids).values_list("pk", User.USERNAME_FIELD))
        for row in rows:
            row["username"] = names.get(row["user"], "")

    @staticmethod
    def _cell(value: Any, precise: bool = False) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(value.normalize(), "f") if precise else f"{value:.6f}"
        return str(value)

    @staticmethod
    def _table(header: list[str], lines: list[list[str]]) -> str:
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
        numeric = set(COLUMNS)

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if h in numeric else c.ljust(w)
                for c, w, h in zip(cells, widths, header, strict=True)
            ).rstrip()

        rule = "  ".join("-" * w for w in widths)
        body = [fmt(line) for line in lines]
        return "\n".join([fmt(header), rule, *body[:-1], rule, body[-1]]) + "\n"
