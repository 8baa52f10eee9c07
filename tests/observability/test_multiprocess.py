"""PROMETHEUS_MULTIPROC_DIR: each worker process writes its numbers to the directory, and the
endpoint's exposition sums them over the workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from django.conf import settings
settings.configure()
from ai import metrics
for _ in range(int(sys.argv[1])):
    metrics.retried("openai", "gpt-4o", "upstream_unavailable")
if len(sys.argv) > 2:
    body, content_type = metrics.exposition(None)
    sys.stdout.write(body.decode())
"""


def run(directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_two_workers_are_summed(tmp_path):
    run(tmp_path, "2")
    run(tmp_path, "3")
    body = run(tmp_path, "0", "expose")
    line = (
        'ai_gateway_upstream_retries_total{error_code="upstream_unavailable",'
        'model="gpt-4o",provider="openai"} 5.0'
    )
    assert line in body.splitlines()
