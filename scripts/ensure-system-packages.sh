#!/usr/bin/env bash
# Debian packages the application itself needs (not Python packages):
# - mdbtools (mdb-tables, mdb-export): the worker reads Arbin .res files (MS Access
#   databases) through them. It is a separate program run by the parser, not a library.
# Installed with apt when running as root (CI, the lab's server); otherwise says what to run.
set -euo pipefail
missing=()
command -v mdb-export >/dev/null 2>&1 || missing+=(mdbtools)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages: sudo apt-get install ${missing[*]} (Arbin .res files cannot be read without mdbtools)" >&2
fi
