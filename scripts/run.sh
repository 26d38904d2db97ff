#!/usr/bin/env bash
# Start the whole system on the embedded defaults: SQLite, kombu's filesystem broker (no server),
# a Celery worker in the background and the Django web server in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export DEBUG=${DEBUG:-1}
mkdir -p var
$PY manage.py migrate --noinput
$PY manage.py load_demo
$PY -m celery -A lims worker --pool=solo --loglevel=info --logfile=var/worker.log &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "Worker log: var/worker.log. Open http://${HOST:-127.0.0.1}:${PORT:-8000}/"
$PY manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}" --noreload
