"""bench/classifier.py runs and prints a line per case, each with the class the table of
tests/services/test_classifier.py would expect of it (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_classifier_bench_prints_each_case():
    out = subprocess.run(
        [sys.executable, "-m", "bench.classifier", "-n", "20"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = re.findall(r"^(.+?\))\s+(\d+) (\w+)\s+([\d.]+)\s+([\d.]+)$", out.stdout, re.MULTILINE)
    classes = {name: label for name, _, label, _, _ in rows}
    assert len(classes) == 6, out.stdout
    assert classes["greeting (2 words)"] == "simple"
    assert classes["question (1 line)"] == "search"
    assert classes["huge paste (~150k tokens)"] == "complex"
