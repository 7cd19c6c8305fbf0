#!/usr/bin/env bash
# One command runs every check: lint, formatting, types, import contracts, and the whole test suite
# (unit, AppTest, integration against a real Kafka the fixtures start, browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test ./scripts/setup.sh

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: /usr/bin/chromium is missing (apt-get install chromium); browser tests will skip" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/pytest "$@"
