#!/usr/bin/env bash
# Creates .venv with the project installed (EXTRAS=test adds the test tools).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is required ($2)" >&2; exit 1; }; }
need python3 "Python 3.11 or newer"
need java "JDK 17 or newer: the local Kafka broker runs on it"
need mvn "Maven: fetches the Kafka broker jars from Maven Central once"
python3 - <<'PY' || { echo "setup: Python 3.11 or newer is required" >&2; exit 1; }
import sys; sys.exit(sys.version_info < (3, 11))
PY

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
# Installing is skipped while pyproject.toml and the extras are what was last installed (the
# project itself is installed editable, so code changes need no reinstall).
spec="."; [ -n "${EXTRAS:-}" ] && spec=".[$EXTRAS]"
stamp=".venv/.installed-$(cat pyproject.toml - <<<"$spec" | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "setup: installing Python packages into .venv (first run: a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  # One line per package fetched, so a first run is not minutes of silence.
  .venv/bin/python -m pip install --progress-bar off -e "$spec" 2>&1 \
    | grep --line-buffered -E '^(Collecting|Successfully installed|ERROR|error)' \
    | sed -u 's/^/setup: /' >&2
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "setup: pip install failed (exit $status); run '.venv/bin/python -m pip install -e \"$spec\"' to see why" >&2
    exit "$status"
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
