"""Run Python code in a fresh interpreter on the tests' settings (what a new process sees)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env: str) -> str:
    """``code`` run by ``python -c`` in the project directory with DJANGO_SETTINGS_MODULE =
    tests.settings and only ``env`` added (none of this process's environment); its stdout."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin", **env},
        cwd=str(ROOT),
    ).stdout
