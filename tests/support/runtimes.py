"""A service's runtime built in the test process, on the test stack's broker and a database
of the test's choosing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from billing_contracts import Topic
from billing_devstack import Infra
from billing_kit.runtime import Runtime
from billing_kit.settings import ServiceSettings
from billing_kit.tables import KitTables


def service_runtime(
    settings_type: type[ServiceSettings],
    tables: KitTables,
    infra: Infra,
    database_url: str,
    *,
    publishes: Sequence[Topic] = (),
    **settings: Any,
) -> Runtime:
    """``settings`` override the service's own (``outbox_batch_size=...``)."""
    return Runtime(
        settings_type(
            database_url=database_url, kafka_bootstrap_servers=infra.kafka_bootstrap, **settings
        ),
        tables,
        publishes=publishes,
    )


async def close_runtime(runtime: Runtime) -> None:
    """Stop what a test used of a runtime it never ran (``running()`` closes the rest)."""
    await runtime.relay.stop()
    await runtime.engine.dispose()
