# The two commands: `make demo` runs the main job, `make test` passes the tests.
# Each installs what it needs first (scripts/setup.sh is idempotent).
.PHONY: setup demo test lint unit integration clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/gaitline demo

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

unit: setup
	.venv/bin/pytest -q tests/unit

integration: setup
	@eval "$$(bash scripts/services.sh)" && .venv/bin/pytest -q tests/integration

test: setup
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest -q tests/unit
	@eval "$$(bash scripts/services.sh)" && .venv/bin/pytest -q tests/integration

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
