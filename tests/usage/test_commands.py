"""ai_prune_usage, ai_rollup_usage, ai_usage_report and ai_load_prices."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from ai.models import ModelPrice, UsageDaily, UsageRecord, UsageRollupDay
from ai.providers.base import Usage
from ai.usage.price_data import read_price_file
from ai.usage.recorder import write_events
from ai.usage.reports import summarize
from ai.usage.rollup import local_today
from tests.usage.conftest import event, price

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def aged(alice, bob):
    """Rows 1, 5, 20 and 40 days old, for alice and bob."""
    price("openai", "gpt-4o-mini", "2020-01-01", "0.15", "0.60")
    now = timezone.now()
    events = []
    for age in (1, 5, 20, 40):
        events += [
            event(f"a{age}", user_id=alice.pk, created_at=now - timedelta(days=age)),
            event(f"b{age}", user_id=bob.pk, created_at=now - timedelta(days=age),
                  model="gpt-unpriced", usage=Usage.of(10, 10)),
        ]  # fmt: skip
    write_events(events)
    return now


# --- ai_prune_usage ------------------------------------------------------------------------


def test_prune_deletes_old_rows_and_keeps_their_totals(aged):
    today = local_today()
    period = (today - timedelta(days=45), today)
    before = summarize(*period)
    out = run("ai_prune_usage", "--days", "10", "--batch-size", "1")
    assert "Deleted 4 usage records" in out
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == [
        "a1", "a5", "b1", "b5",
    ]  # fmt: skip
    # The pruned days were rolled up first: reports over the period are unchanged.
    assert summarize(*period).totals == before.totals
    pruned = UsageRollupDay.objects.filter(pruned=True)
    assert pruned.exists() and all(d.day < today - timedelta(days=10) for d in pruned)
    # Re-rolling a pruned day would sum an empty ledger: it is skipped.
    old_day = (timezone.localtime(aged - timedelta(days=20))).date()
    out = run("ai_rollup_usage", "--date", old_day.isoformat())
    assert "skipped: ledger pruned" in out
    assert UsageDaily.objects.filter(day=old_day).count() == 2


def test_prune_dry_run_and_rollups_option(aged):
    assert "4 records" in run("ai_prune_usage", "--days", "10", "--dry-run")
    assert UsageRecord.objects.count() == 8
    run("ai_prune_usage", "--days", "10", "--rollups")
    assert UsageRecord.objects.count() == 4
    assert not UsageDaily.objects.filter(day__lt=local_today() - timedelta(days=10)).exists()


def test_prune_validates_days(ledger):
    with pytest.raises(CommandError, match="at least 1"):
        run("ai_prune_usage", "--days", "0")


# --- ai_rollup_usage -----------------------------------------------------------------------


def test_rollup_command_days_and_range(aged):
    out = run("ai_rollup_usage", "--days", "3")
    assert out.count(": ") >= 3 and "Rolled up 3 day(s)" in out
    start = (local_today() - timedelta(days=45)).isoformat()
    run("ai_rollup_usage", "--start", start)
    assert UsageDaily.objects.aggregate(n=Sum("requests"))["n"] == 8
    with pytest.raises(CommandError, match="Not a date"):
        run("ai_rollup_usage", "--date", "yesterday")


# --- ai_usage_report -----------------------------------------------------------------------


def test_report_as_csv(aged):
    out = run("ai_usage_report", "--days", "30", "--by", "user,model", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    by_name = {(r["username"], r["model"]): r for r in rows}
    alice = by_name[("alice", "gpt-4o-mini")]
    assert (alice["requests"], alice["prompt_tokens"], alice["completion_tokens"]) == (
        "3", "3000", "1500",
    )  # fmt: skip
    assert Decimal(alice["cost"]) == 3 * Decimal("0.00045")
    bob = by_name[("bob", "gpt-unpriced")]
    assert (bob["cost"], bob["cost_unknown_requests"]) == ("", "3")  # unknown, not 0


def test_report_as_table_with_totals(aged, tmp_path):
    target = tmp_path / "report.txt"
    run("ai_usage_report", "--days", "50", "--by", "provider", "--output", str(target))
    text = target.read_text()
    assert text.startswith("Usage ")
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["provider", "requests", "errors"]
    total = next(line for line in lines if line.startswith("TOTAL")).split()
    assert total[1] == "8"  # requests
    assert "0.001800" in text  # 4 priced requests x $0.00045


def test_report_validates_its_options(ledger):
    with pytest.raises(CommandError, match="--by"):
        run("ai_usage_report", "--by", "colour")
    with pytest.raises(CommandError, match="before --start"):
        run("ai_usage_report", "--start", "2026-02-01", "--end", "2026-01-01")


# --- ai_load_prices ------------------------------------------------------------------------


def test_load_prices_is_idempotent(ledger):
    shipped = len(read_price_file())
    assert f"{shipped} created" in run("ai_load_prices")
    assert ModelPrice.objects.count() == shipped
    assert f"0 created, 0 updated, {shipped} unchanged" in run("ai_load_prices")
    assert ModelPrice.objects.count() == shipped


def test_load_prices_keeps_admin_edits_unless_forced(ledger):
    run("ai_load_prices")
    row = ModelPrice.objects.get(provider="openai", model="gpt-4o")
    row.input_per_mtok, row.source = Decimal("9.99"), ModelPrice.Source.ADMIN
    row.save()
    assert "1 admin-edited kept" in run("ai_load_prices")
    assert ModelPrice.objects.get(pk=row.pk).input_per_mtok == Decimal("9.99")
    assert "1 updated" in run("ai_load_prices", "--force")
    assert ModelPrice.objects.get(pk=row.pk).input_per_mtok == Decimal("2.5")


def test_load_prices_dry_run_and_bad_files(ledger, tmp_path):
    assert "Dry run" in run("ai_load_prices", "--dry-run")
    assert ModelPrice.objects.count() == 0
    bad = tmp_path / "prices.json"
    bad.write_text(
        json.dumps(
            {
                "prices": [
                    {
                        "provider": "openai",
                        "model": "m",
                        "input": "x",
                        "output": "1",
                        "valid_from": "2026-01-01",
                    }
                ]
            }
        )
    )
    with pytest.raises(CommandError, match=r"prices\[0\]: 'input' must be a decimal"):
        run("ai_load_prices", "--file", str(bad))
