"""A service runtime of our own for tests that play another service (a requester, a
consumer): its own fresh database, the shared broker."""

from __future__ import annotations

import asyncio
from typing import Any

import subscriptions.models
from billing_devstack import Infra
from billing_kit.runtime import Runtime
from subscriptions.settings import SubscriptionsSettings
from tests.support.databases import create_database, migrate


async def isolated_runtime(infra: Infra, prefix: str, **settings: Any) -> Runtime:
    url = await create_database(infra.database_url, prefix)
    await asyncio.to_thread(migrate, url, ["subscriptions"])
    return Runtime(
        SubscriptionsSettings(
            database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap, **settings
        ),
        subscriptions.models.kit_tables,
    )
