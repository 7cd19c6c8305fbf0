#!/usr/bin/env bash
# One command from a fresh clone to a running dashboard on demo data:
# local Kafka broker, demo DLQ records, ingest, a follower that keeps ingesting, a live demo
# producer (a trickle and a recurring burst, so the alerts come and go), Streamlit.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export DLQ_BOOTSTRAP_SERVERS="${DLQ_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
# Three DLQs (xact downloads, ClaimX downloads, the generic envelope), read by every step
# below and by the dashboard; set DLQ_CONFIG to use settings of your own.
export DLQ_CONFIG="${DLQ_CONFIG:-scripts/demo.toml}"
# The demo's user may act (replay, resolve); unset it to see the read-only dashboard.
export DLQ_OPERATOR="${DLQ_OPERATOR-demo}"
port="${DLQ_BOOTSTRAP_SERVERS##*:}"
dlq=.venv/bin/dlq

echo "demo: starting the local Kafka broker on port $port" >&2
$dlq broker start --port "$port" >/dev/null
echo "demo: writing demo records into $DLQ_CONFIG's DLQs (skipped for topics that have some)" >&2
$dlq demo --if-empty
echo "demo: ingesting the DLQs into the snapshot" >&2
$dlq ingest

mkdir -p .dlq
$dlq ingest --follow 30 --quiet --metrics-port 9464 >>.dlq/ingest.log 2>&1 &
follower=$!
# Stops with this script (the trap), and by itself should this script die without it.
$dlq demo --if-empty --live >>.dlq/demo-live.log 2>&1 &
live=$!
trap 'kill "$follower" "$live" 2>/dev/null || true' EXIT INT TERM
echo "demo: new records keep arriving, with a burst every 20 minutes (.dlq/demo-live.log)" >&2

echo "Metrics:   http://127.0.0.1:9464/metrics  (Prometheus rules: monitoring/prometheus/)"
echo "Dashboard: http://127.0.0.1:8501  (Ctrl-C stops it; 'make stop' stops the broker)"
.venv/bin/streamlit run streamlit_app.py --server.address 127.0.0.1 --server.port 8501
