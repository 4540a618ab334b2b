# Two commands a newcomer needs: `make run` (the whole stack on embedded defaults) and
# `make test` (installs what it needs, starts what it needs, runs the suite); `make token`
# prints a gateway token to call the services with; `make test-slow` runs the long fault runs.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .devstack/tools/bin/uv
endif
PYTEST_ARGS ?=
RUN_ARGS ?=
ROLE ?= owner
AGENCY ?=
WORKSPACES ?=
SUB ?=
EMAIL ?=
BARE ?=

.PHONY: install browser run token test test-unit test-slow lint format bench asyncapi api-docs clean

# uv itself comes from PyPI into a private virtualenv when the machine has none.
# Nothing on stdout, so `$$(make token ...)` captures the token alone.
.devstack/tools/bin/uv:
	@echo "installing uv into .devstack/tools" >&2
	@python3 -m venv .devstack/tools >&2
	@.devstack/tools/bin/python -m pip install --quiet --disable-pip-version-check uv >&2

install: $(UV)
	@$(UV) sync --locked --quiet >&2

run: install
	$(UV) run billing-stack run $(RUN_ARGS)

# make token ROLE=owner AGENCY=agency-demo     -> Authorization: Bearer <jwt>
# clients: ROLE=client AGENCY=… WORKSPACES=ws_1,ws_2; also SUB=, EMAIL=; BARE=1: the token alone.
token: install
	@$(UV) run --quiet billing-stack token --role '$(ROLE)' \
		$(if $(AGENCY),--agency '$(AGENCY)') $(if $(WORKSPACES),--workspaces '$(WORKSPACES)') \
		$(if $(SUB),--sub '$(SUB)') $(if $(EMAIL),--email '$(EMAIL)') $(if $(BARE),--bare)

# The revenue dashboard is checked in a real browser: Debian's chromium, installed here when
# the machine allows it (root with apt-get); elsewhere that one test says why it is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& echo "installing chromium for the dashboard's browser test" >&2 \
		&& apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "no chromium here: the dashboard's browser test will be skipped" >&2

test: install browser
	$(UV) run pytest -m "not stress" $(PYTEST_ARGS)

# The fast tier: every rule and every test that needs no infrastructure (marked `unit`) but
# those that start processes or build every app (also `slow`); no stack, seconds, so run it
# while editing. `make test` runs them all.
test-unit: install
	$(UV) run pytest -m "unit and not slow" $(PYTEST_ARGS)

# The long fault runs (10,000 shuffled and repeated webhooks; consumers SIGKILLed ten times
# mid-stream): about eight minutes on two cores, so apart from `make test`.
test-slow: install
	$(UV) run pytest -m stress $(PYTEST_ARGS)

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
