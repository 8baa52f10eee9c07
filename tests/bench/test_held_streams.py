"""bench/held_streams.py end to end at a tiny size: the fake upstream, the gateway under uvicorn,
20 paced streams of 3 deltas 50 ms apart and 20 unpaced ones. Checks that every field the
scenario reports is there and sane; no thresholds on speed (that is the benchmark's job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_held_streams_reports_every_field(tmp_path):
    out_json = tmp_path / "held.json"
    out = subprocess.run(
        [sys.executable, "-m", "bench.held_streams", "--streams", "20", "--deltas", "3",
         "--interval", "0.05", "--ramp", "0.5", "--unpaced", "20", "--unpaced-rate", "100",
         "--out", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "N=20: 20 completed, 0 errors" in out.stderr, out.stderr[-3000:]
    assert out.stdout.startswith("Held streams: 3 deltas 50 ms apart"), out.stdout

    results = json.loads(out_json.read_text())
    (run,) = results["runs"]
    assert run["n"] == 20
    assert run["completed"] == 20 and run["errors"] == 0
    assert run["unpaced_completed"] == 20 and run["unpaced_errors"] == 0
    # Every stream delivered every delta (3 each, paced and unpaced).
    assert run["paced"]["tokens"] == 60 and run["unpaced"]["tokens"] == 60
    assert 1 <= run["max_open"] <= 20
    # Paced streams last at least their 3 x 50 ms of pacing.
    assert run["stream_ms_p50"] >= 150
    assert run["cpu_ms_per_stream_paced"] > 0
    assert run["cpu_ms_per_stream_unpaced"] is not None
    assert run["peak_rss_mb"] >= run["idle_rss_mb"] > 0
    assert run["hwm_mb"] >= run["peak_rss_mb"]
    assert run["rss_per_open_stream_kb"] is not None
    # Every request the scenario sent has its ledger row.
    assert run["ledger_rows_added"] == run["requests_sent"] == 3 * 2 + 20 + 20
    assert results["meta"]["commit"]
