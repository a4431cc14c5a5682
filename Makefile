PY ?= python

.PHONY: test lint fix bench
test:            ## the default suite (the README's test command)
	$(PY) -m pytest -q -p no:cacheprovider --durations=15

lint:            ## ruff and mypy, as CI runs them
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) scripts/typecheck.py

fix:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench:           ## wall times of zoo --help, zoo list and zoo sample
	$(PY) benchmarks/cli_times.py
