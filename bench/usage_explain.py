"""Query plans of the ledger's real queries on a big PostgreSQL ledger.

    python bench/usage_explain.py [--rows 2000000] [--keep]

Fills the database ``ai_ledger_bench`` on 127.0.0.1:5432 (created if missing) with ``--rows``
usage records over 90 days for 1,000 users (generated in SQL), rolls the days up, ANALYZEs,
then runs the code paths that query the ledger (the usage API, the admin dashboard, the admin
usage list with its filters and search, the daily roll-up, retention) while capturing their
SQL, and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of each query: the plan's node lines, the
indexes used and the execution time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("gemini", "gemini-2.5-flash"),
    ("anthropic", "claude-haiku-4-5"),
    ("gemini", "gemini-2.5-pro"),
    ("openai", "o4-mini"),
    ("openai", "gpt-unpriced"),
]

FILL = """
WITH users AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM auth_user WHERE username LIKE 'user%%'
), models AS (
    SELECT array_agg(provider ORDER BY k) AS providers, array_agg(model ORDER BY k) AS names
    FROM (VALUES {models}) AS v(k, provider, model)
)
INSERT INTO ai_usagerecord (created_at, request_id, user_id, endpoint, provider, model,
    complexity, streamed, status, error_code, prompt_tokens, completion_tokens, total_tokens,
    cached_tokens, reasoning_tokens, usage_source, cost, latency_ms, ttft_ms, upstream_request_id)
SELECT now() - make_interval(secs => i * (90 * 86400.0 / %(rows)s)),
       md5(i::text), users.ids[1 + (i * 7919) %% 1000], 'chat',
       models.providers[1 + i %% 8], models.names[1 + i %% 8], 'moderate', i %% 2 = 0,
       CASE WHEN i %% 50 = 0 THEN 'error' WHEN i %% 97 = 0 THEN 'cancelled' ELSE 'ok' END,
       CASE WHEN i %% 50 = 0 THEN 'upstream_timeout' ELSE '' END,
       100 + i %% 900, 20 + i %% 300, 120 + i %% 900 + i %% 300, i %% 50, 0, 'reported',
       CASE WHEN i %% 8 = 7 THEN NULL ELSE (i %% 1000) / 100000.0 END,
       200 + i %% 3000, 50 + i %% 500, ''
FROM generate_series(1::bigint, %(rows)s) AS i, users, models
"""


def setup(rows: int, keep: bool) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname='ai_ledger_bench'").fetchone():
            c.execute("CREATE DATABASE ai_ledger_bench")
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/ai_ledger_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from ai.models import UsageRecord

    if keep and UsageRecord.objects.count() >= rows:
        print(f"reusing {UsageRecord.objects.count()} rows")
        return
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ai_usagerecord, ai_usagedaily, ai_usagerollupday")
        cursor.execute("SELECT count(*) FROM auth_user")
        if cursor.fetchone()[0] < 1000:
            cursor.execute(
                "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
                " email, is_staff, is_active, date_joined) SELECT '!', false, 'user' || i, '', '',"
                " '', false, true, now() FROM generate_series(1, 1000) i"
                " ON CONFLICT (username) DO NOTHING"
            )
        models = ", ".join(f"({i}, '{p}', '{m}')" for i, (p, m) in enumerate(MODELS))
        started = time.perf_counter()
        cursor.execute(FILL.format(models=models), {"rows": rows})
        print(f"inserted {rows} rows in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    call_command("ai_rollup_usage", "--days", "92", verbosity=0)
    print(f"rolled up 92 days in {time.perf_counter() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ai_usagerecord")
        cursor.execute("VACUUM ANALYZE ai_usagedaily")


def explain(title: str, run) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        run()
        elapsed = (time.perf_counter() - started) * 1000
    print(f"\n=== {title}: {len(captured)} queries, {elapsed:.0f} ms end to end")
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith(("SELECT", "DELETE")) or "django_session" in sql:
            continue
        if ("auth_user" in sql and "ai_usage" not in sql) or "ai_modelprice" in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
            plan = [row[0] for row in cursor.fetchall()]
        nodes = [
            line.strip()
            for line in plan
            if re.search(r"(Scan|Sort|Aggregate|Limit|Join|Loop|Append|Gather|Delete)", line)
        ]
        runtime = next((line for line in plan if line.startswith("Execution Time")), "")
        flat = re.sub(r"\s+", " ", sql)[:150]
        print(f"- {flat}...")
        for node in nodes[:6]:
            print("    " + re.sub(r" [(]actual.*", "", node)[:110])
        print(f"    {runtime}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="Reuse an already filled ledger.")
    args = parser.parse_args()
    setup(args.rows, args.keep)

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from ai.api.usage import UsageQuery, usage_payload
    from ai.models import UsageRecord
    from ai.usage.dashboard import build_dashboard
    from ai.usage.rollup import local_today, rollup_day

    today = local_today()
    user = get_user_model().objects.filter(username="user500").first()
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    request_id = UsageRecord.objects.filter(user=user).values_list("request_id", flat=True)[0]
    start30 = today - timedelta(days=29)

    explain(
        "usage API: one user, 30 days (totals/breakdowns/records page)",
        lambda: usage_payload(UsageQuery(start30, today, user.pk, 1, 50), lambda p: ""),
    )
    explain(
        "usage API: one user, page 20 of records",
        lambda: usage_payload(UsageQuery(start30, today, user.pk, 20, 50), lambda p: ""),
    )
    explain("admin dashboard, 90 days", lambda: build_dashboard(90))
    for label, query in (
        ("admin usage list (newest first)", {}),
        ("admin usage list: price unknown", {"cost": "unknown"}),
        ("admin usage list: status=error", {"status__exact": "error"}),
        ("admin usage list: one user", {"user_id": user.pk}),
        ("admin usage list: provider+model", {"provider": "openai", "model": "gpt-4o"}),
        ("admin usage list: search request id", {"q": request_id}),
    ):
        explain(label, lambda q=query: client.get("/admin/ai/usagerecord/", q))
    explain("roll-up of one day", lambda: rollup_day(today - timedelta(days=3)))
    explain(
        "retention: ai_prune_usage --days 85 (batches of 10k)",
        lambda: call_command("ai_prune_usage", "--days", "85", verbosity=0),
    )


if __name__ == "__main__":
    main()
