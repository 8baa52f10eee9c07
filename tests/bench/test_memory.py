"""bench/memory.py end to end: a worker's RSS by stage and the import breakdown (numbers only
printed, never judged: sizes belong to the benchmark, not to a test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.memory import breakdown, group

ROOT = Path(__file__).resolve().parents[2]


def test_memory_reports_every_stage_and_the_imports(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--providers", "openai", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    stages = [row["stage"] for row in result["stages"]]
    assert stages[:4] == [
        "interpreter + uvicorn + uvloop",
        "django.setup()",
        "import gateway_project.asgi",
        "lifespan startup",
    ]
    assert "first plain openai request" in stages and stages[-1].startswith("idle")
    assert all(row["rss_mb"] > 0 for row in result["stages"])
    assert result["first_request_ms"]["openai"] > 0
    # The SDK the worker used was imported, and its cost attributed to its package.
    assert any(name.startswith("openai") for name in result["imports"])
    assert {"openai", "django"} <= {name for name, _, _ in breakdown(result["imports"], 1, 50)}
    assert set(result["import_stage"].values()) <= set(stages)


PROBE_SCRIPT = """
import importlib, json, sys
from bench.memory import ImportProbe
probe = ImportProbe()
probe.install()
importlib.import_module("probe_pkg")
print(json.dumps(probe.cost))
"""


def test_import_probe_counts_a_module_once_and_apart_from_its_imports(tmp_path):
    pkg = tmp_path / "probe_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from probe_pkg import big\n")
    (pkg / "big.py").write_text("DATA = [str(i) * 10 for i in range(200_000)]\n")
    # A fresh interpreter: in a long-lived one, freed memory is reused without growing RSS.
    out = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{tmp_path}"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    cost = json.loads(out.stdout)
    # big.py allocates ~20 MB; the package itself almost nothing beyond importing it.
    assert cost["probe_pkg.big"] > 10 * 2**20
    assert cost["probe_pkg"] < cost["probe_pkg.big"] / 4


def test_group_keeps_namespace_packages_apart():
    assert group("google.genai.types", 1) == "google.genai"
    assert group("anthropic.types.beta.x", 2) == "anthropic.types"
    assert group("django.db.models", 1) == "django"
