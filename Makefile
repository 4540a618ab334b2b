# Two commands a newcomer needs: `make run` (the whole stack on embedded defaults) and
# `make test` (installs what it needs, starts what it needs, runs the suite).

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .devstack/tools/bin/uv
endif
PYTEST_ARGS ?=

.PHONY: install run test lint format bench asyncapi api-docs clean

# uv itself comes from PyPI into a private virtualenv when the machine has none.
.devstack/tools/bin/uv:
	python3 -m venv .devstack/tools
	.devstack/tools/bin/python -m pip install --quiet --disable-pip-version-check uv

install: $(UV)
	$(UV) sync --locked --quiet

run: install
	$(UV) run billing-stack run

test: install
	$(UV) run pytest $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: install
	$(UV) run python -m bench.run_all

asyncapi: install
	$(UV) run python -m billing_contracts.asyncapi --write

api-docs: install
	$(UV) run python -m billing_kit.api_docs --write

clean:
	-$(UV) run billing-stack clean
	rm -rf .devstack
