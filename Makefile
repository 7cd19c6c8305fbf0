.PHONY: demo test stop bench

demo:  ## local Kafka, demo data, ingest, dashboard on http://127.0.0.1:8501
	./scripts/demo.sh

test:  ## lint, types, import contracts and every test (starts what they need)
	./scripts/test.sh

stop:  ## stop the demo's Kafka broker
	.venv/bin/dlq broker stop

bench:  ## benchmarks (keep the test suite off the machine while they run)
	.venv/bin/python -m bench.ingest_bench
	.venv/bin/python -m bench.dashboard_bench
	.venv/bin/python -m bench.actions_bench
