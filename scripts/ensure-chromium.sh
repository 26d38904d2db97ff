#!/usr/bin/env bash
# The browser tests drive Debian's chromium (no browser downloads: the network is closed).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is missing: sudo apt-get install chromium (browser tests will fail without it)" >&2
fi
