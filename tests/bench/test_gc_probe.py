"""bench/gc_probe.py: the collection recorder, and the probe end to end on the offline provider
(no upstream needed). Counts are checked for consistency, never against a speed or size."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from bench.gc_probe import GCRecorder

ROOT = Path(__file__).resolve().parents[2]


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_recorder_counts_collections_and_the_cycles_they_free():
    recorder = GCRecorder(promotions=True)
    recorder.install()
    recorder.active = True
    try:
        for _ in range(1000):
            _Node()  # each one a cycle only the collector frees
        gc.collect(0)
        gc.collect()
    finally:
        recorder.active = False
        recorder.remove()
    assert recorder.count[0] >= 1 and recorder.count[2] >= 1
    assert sum(recorder.collected) >= 1000
    assert len(recorder.full_pauses) == recorder.count[2]
    assert recorder not in gc.callbacks


def test_recorder_census_names_the_promoted_types():
    recorder = GCRecorder(census=True)
    recorder.install()
    gc.collect()
    recorder.active = True
    try:
        kept = [_Node() for _ in range(500)]
        gc.collect(1)  # young objects still alive: promoted to generation 2
    finally:
        recorder.active = False
        recorder.remove()
    assert recorder.promoted >= len(kept)
    assert recorder.promoted_types[f"{__name__}._Node"] >= len(kept)


def test_gc_probe_runs_in_process(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.gc_probe", "offline", "-n", "200", "-c", "10",
         "--warmup", "50", "--upstream", "http://127.0.0.1:9", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["requests"] == 200 and result["errors"] == 0
    assert result["cpu_us_per_request"] > 0
    assert result["long_lived_objects"] > 10_000 and result["gc_freeze"] is False
    assert len(result["collections"]) == 3
    slow = result["slow_requests"]
    assert slow["count"] >= 1
    # Every slow request is put down to exactly one cause.
    assert sum(v for k, v in slow.items() if k not in ("threshold_ms", "count")) == slow["count"]
