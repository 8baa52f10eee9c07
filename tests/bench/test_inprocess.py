"""bench/inprocess.py end to end, and bench/ledger_overlap.py on top of it, on the offline
provider (no upstream needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, module: str, n: int, c: int, **env: str) -> str:
    """``python -m <module> offline -n N -c C`` in a clean environment; its stdout."""
    out = subprocess.run(
        [sys.executable, "-m", module, "offline", "-n", str(n), "-c", str(c),
         "--upstream", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_inprocess_measures_cpu_per_request(tmp_path):
    stdout = _run(tmp_path, "bench.inprocess", 200, 10)
    match = re.search(
        r"offline: (\d+) us CPU per request, (\d+) req/s, (\d+) requests, 0 errors", stdout
    )
    assert match, stdout
    assert int(match[1]) > 0 and int(match[3]) == 200


def test_ledger_overlap_times_requests_against_the_ledgers_batches(tmp_path):
    stdout = _run(tmp_path, "bench.ledger_overlap", 300, 2, AI_USAGE_FLUSH_INTERVAL_MS="20")
    requests = re.search(r"^(\d+) requests: p50 [\d.]+ ms, p99 [\d.]+ ms", stdout, re.M)
    assert requests and int(requests[1]) == 300, stdout
    slowest = re.search(r"slowest 1 % \((\d+)\): (\d+) in flight", stdout)
    assert slowest and int(slowest[1]) == 3 and int(slowest[2]) <= 3, stdout
    batches = re.search(r"^(\d+) batches, (\d+) rows each", stdout, re.M)
    assert batches and int(batches[1]) >= 1 and int(batches[2]) >= 1, stdout
