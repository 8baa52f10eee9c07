"""bench/validation.py runs and times every body it knows (each checked to validate as
expected first: a good body that is rejected, or a bad one accepted, fails the run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.validation import BODIES

ROOT = Path(__file__).resolve().parents[2]


def test_validation_bench_times_each_body():
    out = subprocess.run(
        [sys.executable, "-m", "bench.validation", "-n", "20", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    timed = dict(re.findall(r"^(.+?)\s+([\d.]+) us$", out.stdout, re.MULTILINE))
    assert set(timed) == set(BODIES)
    assert all(float(us) > 0 for us in timed.values())
