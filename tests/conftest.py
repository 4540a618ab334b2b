"""One stack of real infrastructure per test session: embedded Postgres, the Kafka-protocol
broker and the Stripe emulator (or Apache Kafka and Postgres in containers with
``BILLING_TEST_INFRA=containers``). Services are started as processes on first need and
reused; tests isolate themselves by tenant ids, not by restarting anything."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from billing_devstack import Infra, Stack, default_state_dir
from billing_devstack.broker import BROKER_ENV
from tests.helpers.databases import migrate
from tests.helpers.services import serve_all
from tests.helpers.tokens import Tokens

# Fixtures more than one folder uses; pytest reads this list only in this, the top conftest.
pytest_plugins = ["tests.plugins.stack_clients", "tests.plugins.agencies"]

os.environ.setdefault("BILLING_ENV", "development")  # apps built in-process by the tests
for _variable, _value in BROKER_ENV.items():  # ... on the one test broker
    os.environ.setdefault(_variable, _value)

BROKER_RESTARTS = (
    "test_broker_outage.py",
    "test_broker_down_under_load.py",
    "test_ingest_without_broker.py",
    "test_rpc_after_broker_restart.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fault tests disturb the shared infrastructure: run them after everything else, and
    those restarting the embedded broker (which loses its topics and consumer groups: every
    consumer rejoins and is moved back within the topics made again, which takes seconds
    that other tests' deadlines should not pay for) last of all."""
    items.sort(
        key=lambda item: (
            "tests/reliability/" in item.nodeid,
            any(name in item.nodeid for name in BROKER_RESTARTS),
        )
    )


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    test_stack = Stack(default_state_dir() / "test")
    test_stack.start()
    try:
        migrate(test_stack.infra.database_url)
        yield test_stack
    finally:
        test_stack.stop()


@pytest.fixture(scope="session")
def infra(stack: Stack) -> Infra:
    return stack.infra


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture(scope="session")
def services(stack: Stack) -> dict[str, str]:
    """Every service running as its own process; name → base URL."""
    return serve_all(stack)
