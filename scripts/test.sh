#!/usr/bin/env bash
# One command runs every check: lint, formatting, types, import contracts, and the whole test suite
# (unit, AppTest, integration against a real Kafka the fixtures start, browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test ./scripts/setup.sh

# Debian packages the tests drive: Chromium (browser tests) and Prometheus (promtool and a
# real Prometheus for the alert rules). Installing prometheus may try to start its service;
# without systemd (CI) that is skipped, and the tests start their own instance.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test: ${missing[*]} missing (apt-get install ${missing[*]}); their tests will skip" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/pytest "$@"
