"""bench/ledger_overlap.py end to end, on the offline provider (no upstream needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_times_requests_against_the_ledgers_batches(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.ledger_overlap", "offline", "-n", "300", "-c", "2",
         "--upstream", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AI_USAGE_FLUSH_INTERVAL_MS": "20"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    requests = re.search(r"^(\d+) requests: p50 [\d.]+ ms, p99 [\d.]+ ms", out.stdout, re.M)
    assert requests and int(requests[1]) == 300, out.stdout
    slowest = re.search(r"slowest 1 % \((\d+)\): (\d+) in flight", out.stdout)
    assert slowest and int(slowest[1]) == 3 and int(slowest[2]) <= 3, out.stdout
    batches = re.search(r"^(\d+) batches, (\d+) rows each", out.stdout, re.M)
    assert batches and int(batches[1]) >= 1 and int(batches[2]) >= 1, out.stdout
