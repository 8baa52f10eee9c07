#!/usr/bin/env bash
# Set up and run the gateway on the embedded defaults (SQLite, local-memory cache, and the offline
# provider unless an API key is set in the environment or .env). Idempotent: run it again any time.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

# A random SECRET_KEY, written once; nothing secret is ever committed.
if ! grep -qs '^SECRET_KEY=' .env; then
  echo "SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env
fi

.venv/bin/python manage.py migrate --noinput
echo "Gateway on http://${HOST:-127.0.0.1}:${PORT:-8000}  (docs: /api/docs/, admin: /admin/)"
exec .venv/bin/uvicorn gateway_project.asgi:application \
  --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" --workers "${WORKERS:-1}" \
  --loop uvloop --http httptools --no-access-log
