#!/usr/bin/env bash
# Fuzz the REST API against its OpenAPI schema with schemathesis (bounded: about a minute).
# A live test server with the demo data and a staff token; fails on any 5xx, any response
# that breaks the schema, any undocumented status code. Uses DATABASE_URL like the tests do
# (PostgreSQL in CI, SQLite otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
LIMS_SCHEMATHESIS=1 exec "$PY" -m pytest tests/api/test_schemathesis.py -q -p no:cacheprovider "$@"
