"""bench/inprocess_key.py and bench/key_auth.py end to end (they run, with a key that works;
the numbers themselves are the bench's business, not a test's)."""

from __future__ import annotations

import re

from tests.fresh import run_module


def test_inprocess_with_a_key_answers_every_request(tmp_path):
    out = run_module(
        tmp_path, "bench.inprocess_key", "offline", "-n", "200", "-c", "10",
        "--upstream", "http://127.0.0.1:9",
    )  # fmt: skip
    match = re.search(
        r"offline: (\d+) us CPU per request, \d+ req/s, (\d+) requests, 0 errors", out
    )
    assert match, out
    assert int(match[2]) == 200


def test_key_auth_compares_both_paths(tmp_path):
    out = run_module(tmp_path, "bench.key_auth", "-n", "200", "-c", "10")
    rows = re.findall(r"^(jwt|key) c=(\d+)\s+([\d.]+) us CPU", out, re.M)
    assert [(name, c) for name, c, _ in rows] == [
        ("jwt", "1"),
        ("jwt", "10"),
        ("key", "1"),
        ("key", "10"),
    ], out
