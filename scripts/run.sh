#!/usr/bin/env bash
# Start the whole system on the embedded defaults: SQLite, kombu's filesystem broker (no server),
# a Celery worker (with beat) and the Django web server; once the server answers, print where to open it,
# the logins and how to stop. Background processes write to logs under var/, not this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DEBUG=${DEBUG:-1}
export DJANGO_RUNSERVER_HIDE_WARNING=true # the banner says it is the development server
VAR=${LIMS_VAR_DIR:-var}
WORKER_LOG=$VAR/worker.log
WEB_LOG=$VAR/web.log
mkdir -p "$VAR"
: >"$WORKER_LOG"
: >"$WEB_LOG"

echo "Preparing the database and the demo data..."
$PY manage.py migrate --noinput -v 0
$PY manage.py load_demo -v 0

# A prefork pool (one child): Celery's time limits and memory recycling need a pool process
# (the solo pool ignores both). -B runs beat inside the worker for the reconciler
# (core.jobs.reconcile); production runs `celery -A lims beat` as a process of its own.
$PY -m celery -A lims worker --pool=prefork --concurrency=1 -B \
  --schedule="$VAR/celerybeat-schedule" --loglevel=info >>"$WORKER_LOG" 2>&1 &
worker=$!
# Start-up lines go to the web log; requests and errors stay on this terminal (stderr).
$PY manage.py runserver "$HOST:$PORT" --noreload >>"$WEB_LOG" &
web=$!
stop() {
  kill "$web" "$worker" 2>/dev/null || true
  wait "$web" "$worker" 2>/dev/null || true
}
trap stop EXIT
trap 'echo; echo "Stopped."; exit 0' INT TERM

probe=$HOST
[ "$probe" = "0.0.0.0" ] && probe=127.0.0.1
for _ in $(seq 1 150); do
  if ! kill -0 "$web" 2>/dev/null; then
    echo "The web server did not start (see above and $WEB_LOG)." >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/$probe/$PORT") 2>/dev/null; then
    break
  fi
  sleep 0.2
done

cat <<BANNER

  Solid-state battery LIMS is running
    Open        http://$HOST:$PORT/
    Staff       demo / demo-lims
    Read-only   viewer / demo-lims
    Worker log  $WORKER_LOG   (web server start-up: $WEB_LOG)
    Stop        Ctrl-C

BANNER
wait "$web"
