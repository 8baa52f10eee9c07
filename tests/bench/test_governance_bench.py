"""bench/governance_cost.py and bench/everything_on.py end to end, on the offline provider and
the local-memory cache (no upstream, no Redis needed)."""

from __future__ import annotations

import re

from tests.fresh import run_module


def test_governance_cost_measures_admit_and_settle(tmp_path):
    stdout = run_module(tmp_path, "bench.governance_cost", "-n", "200", "-c", "10")
    match = re.search(r"memory: ([\d.]+) us CPU per request .* (\d+) requests", stdout)
    assert match, stdout
    assert float(match[1]) > 0 and int(match[2]) == 200


def test_everything_on_answers_every_request(tmp_path):
    stdout = run_module(
        tmp_path, "bench.everything_on", "offline", "-n", "200", "-c", "10",
        "--upstream", "http://127.0.0.1:9",
    )  # fmt: skip
    assert re.search(r"offline: \d+ us CPU per request, \d+ req/s, 200 requests, 0 errors", stdout)
