"""A service's runtime built in the test process, on the test stack's broker and a database
of the test's choosing."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from typing import Any

from uvicorn.importer import import_from_string

import subscriptions.models
from billing_contracts import Topic
from billing_devstack import Infra
from billing_kit.runtime import Runtime
from billing_kit.settings import ServiceSettings
from billing_kit.tables import KitTables
from subscriptions.settings import SubscriptionsSettings
from tests.helpers.databases import create_database, migrate


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


async def isolated_runtime(infra: Infra, prefix: str, **settings: Any) -> Runtime:
    """A subscriptions-shaped runtime on a fresh database of its own (for a test that plays
    another service: a requester, a consumer)."""
    url = await create_database(infra.database_url, prefix)
    await asyncio.to_thread(migrate, url, ["subscriptions"])
    return service_runtime(
        SubscriptionsSettings, subscriptions.models.kit_tables, infra, url, **settings
    )


def settings_type(package: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package}.settings")
    [found] = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]
    return found


def runtime_of(package: str) -> Runtime:
    """The runtime of the service ``package`` as its app builds it, in development mode (no
    connection made)."""
    settings = settings_type(package)(billing_env="development")
    app = import_from_string(f"{package}.app:create_app")(settings)
    runtime: Runtime = app.state.runtime
    return runtime
