"""bench/inprocess.py end to end, on the offline provider (no upstream needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_inprocess_measures_cpu_per_request(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", "offline", "-n", "200", "-c", "10",
         "--upstream", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    match = re.search(
        r"offline: (\d+) us CPU per request, (\d+) req/s, (\d+) requests, 0 errors", out.stdout
    )
    assert match, out.stdout
    assert int(match[1]) > 0 and int(match[3]) == 200
