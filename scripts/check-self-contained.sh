#!/usr/bin/env bash
# The repository must run from a clone with nothing beside it: no test, benchmark or script may
# read the steering folder beside the repository or an absolute filesystem path. Fails listing
# the lines.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\.\./shared|parents\[[3-9]\]|["'"'"'](/(home|work|root|tmp|opt|mnt|srv|usr|var|etc|data|media|Users)/)'
if found=$(git grep -nE "$pattern" -- tests benchmarks scripts Makefile .ci ':!scripts/check-self-contained.sh'); then
  echo "These lines read outside the repository (a user's clone will not have those paths):" >&2
  echo "$found" >&2
  exit 1
fi
echo "self-contained: no reference outside the repository in tests, benchmarks, scripts, Makefile, .ci"
