"""Apache Kafka and Postgres in containers (``BILLING_TEST_INFRA=containers``).

Where a Docker engine exists, setting ``BILLING_TEST_INFRA=containers`` makes
:class:`billing_devstack.stack.Stack` (and so the test fixtures) start these instead of the
embedded Postgres and Tansu; the Stripe emulator stays a local process. They need the dev
dependency ``testcontainers[kafka,postgres]``, imported only when used, so this module
imports fine without Docker. Not exercised by CI (its machines have no Docker engine).

- Postgres: ``postgres:17-alpine`` (override with ``BILLING_TEST_POSTGRES_IMAGE``), database
  ``billing``, user/password ``postgres``.
- Kafka: ``confluentinc/cp-kafka:7.6.0`` in KRaft mode (``BILLING_TEST_KAFKA_IMAGE``).
- "Broker down, then back" pauses and unpauses the Kafka container, so the mapped port stays
  the same and, unlike Tansu, topics survive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from billing_devstack.broker import kafka_ready
from billing_devstack.processes import run_sync

MODE_ENV = "BILLING_TEST_INFRA"


def containers_requested(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(MODE_ENV, "").lower() == "containers"


class ContainerPostgres:
    """Same duck interface as :class:`billing_devstack.postgres.EmbeddedPostgres`."""

    def __init__(self, image: str | None = None) -> None:
        self.image = image or os.environ.get("BILLING_TEST_POSTGRES_IMAGE", "postgres:17-alpine")
        self.container: Any = None

    def spawn(self) -> None:
        from testcontainers.postgres import PostgresContainer

        container: Any = PostgresContainer(
            self.image, username="postgres", password="postgres", dbname="billing", driver=None
        )
        container.with_command("postgres -c fsync=off -c max_connections=300")
        self.container = container.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """``start()`` already waited for the server."""

    @property
    def url(self) -> str:
        host = self.container.get_container_host_ip()
        port = self.container.get_exposed_port(5432)
        return f"postgresql+asyncpg://postgres:postgres@{host}:{port}/billing"

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None


class ContainerKafka:
    """Same duck interface as :class:`billing_devstack.broker.TansuBroker`."""

    def __init__(self, image: str | None = None) -> None:
        self.image = image or os.environ.get(
            "BILLING_TEST_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0"
        )
        self.container: Any = None
        self.paused = False

    def spawn(self) -> None:
        if self.container is not None:
            if self.paused:
                self.container.get_wrapped_container().unpause()
                self.paused = False
            return
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # older testcontainers
            from testcontainers.kafka import KafkaContainer

        self.container = KafkaContainer(self.image).with_kraft().start()

    def wait_ready(self, timeout: float = 60.0) -> float:
        return run_sync(kafka_ready(self.bootstrap, timeout))

    @property
    def bootstrap(self) -> str:
        server: str = self.container.get_bootstrap_server()
        return server

    def start(self, timeout: float = 60.0) -> ContainerKafka:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def pause(self) -> None:
        """Broker unreachable (the port stays mapped)."""
        if self.container is not None and not self.paused:
            self.container.get_wrapped_container().pause()
            self.paused = True

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None
            self.paused = False
