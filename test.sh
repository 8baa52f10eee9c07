#!/usr/bin/env bash
# Set up and run the test suite. SQLite + local-memory cache by default; PostgreSQL and Redis when
# DATABASE_URL / REDIS_URL are set. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Pinned: the runtime requirements plus what the tests import (pyproject's `test` extra, which
# `pip install '.[test]'` installs unpinned; tests/test_packaging.py keeps the two in step).
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

exec .venv/bin/python -m pytest "$@"
