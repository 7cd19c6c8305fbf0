.PHONY: demo test unit lint types stop bench benchmarks-md

demo:  ## local Kafka, demo data, ingest, dashboard on http://127.0.0.1:8501
	./scripts/demo.sh

test:  ## lint, format, types, import contracts and every test (starts what they need)
	./scripts/test.sh

lint:  ## ruff check and ruff format --check (seconds)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

types:  ## mypy, strict
	.venv/bin/mypy

unit:  ## the tests that need neither a broker nor a browser
	.venv/bin/pytest -q -m "not kafka and not browser"

stop:  ## stop the demo's Kafka broker
	.venv/bin/dlq broker stop

bench:  ## benchmarks, recorded in benchmarks/runs/ (keep the test suite off the machine)
	.venv/bin/python -m bench.ingest_bench --records 300000
	.venv/bin/python -m bench.dashboard_bench
	.venv/bin/python -m bench.actions_bench
	.venv/bin/python -m bench.render

benchmarks-md:  ## render BENCHMARKS.md again from the recorded runs
	.venv/bin/python -m bench.render
