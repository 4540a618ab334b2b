"""Killing and restarting the services this test session started (and nothing else): the
processes come from the session's ``Stack``, never from a search by name."""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import httpx

from billing_contracts.routing import SUBSCRIPTIONS
from billing_devstack import Stack
from billing_devstack.processes import kill_tree
from tests.helpers.databases import connect
from tests.helpers.waiting import eventually
from webhook_ingest.rules.normalize import EVENT_TYPES, contract_event_id


def sigkill(stack: Stack, name: str) -> None:
    """SIGKILL the service's process group (its workers too) and reap it."""
    process = stack.services[name]
    assert process.running, f"{name} is not running"
    assert process.pid is not None
    assert process.popen is not None
    kill_tree(process.pid, sig=signal.SIGKILL)
    process.popen.wait(10)


async def restart(stack: Stack, names: Iterable[str], base_urls: dict[str, str]) -> None:
    """Start the killed services again as they were (same command, port and environment;
    their database is migrated already) and wait until each answers ``/healthz``."""
    started = [stack.services[name].start() for name in names]
    async with httpx.AsyncClient(timeout=2) as client:

        async def healthy(name: str) -> bool:
            process = stack.services[name]
            assert process.running, f"{name} exited on restart:\n{process.tail(20)}"
            try:
                return (await client.get(f"{base_urls[name]}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        for process in started:
            await eventually(lambda name=process.name: healthy(name), within=90)  # type: ignore[misc]


async def inbox_counts(
    database_url: str, event_ids: dict[tuple[str, str], set[str]]
) -> dict[tuple[str, str], int]:
    """How many of the expected events each ``(service, consumer)`` recorded in its inbox."""
    conn = await connect(database_url)
    try:
        counts = {}
        for (service, consumer), ids in event_ids.items():
            # The schema is a service name from the routing table, never outside input.
            query = (
                f"SELECT count(*) FROM {service}.inbox"
                " WHERE consumer = $1 AND event_id = ANY($2::uuid[])"
            )
            name = f"{service}.{consumer}"  # the inbox's name of the consumer
            counts[service, consumer] = int(await conn.fetchval(query, name, list(ids)))
        return counts
    finally:
        await conn.close()


def consumers_of(topic_name: str, services: Iterable[str]) -> list[tuple[str, str]]:
    """The ``(service, consumer)`` pairs among ``services`` that consume ``topic_name``."""
    wanted = set(services)
    return [(s.service, s.consumer) for s in SUBSCRIPTIONS
            if s.topic.name == topic_name and s.service in wanted]  # fmt: skip


Expected = dict[tuple[str, str], set[str]]
"""Contract event ids by ``(service, consumer)``."""


def expected_in_inboxes(events: Iterable[dict[str, Any]], services: Iterable[str]) -> Expected:
    """The contract event ids each consumer of ``services`` must record for Stripe's
    ``events`` (those webhook-ingest publishes)."""
    among = tuple(services)
    expected: Expected = defaultdict(set)
    for event in events:
        route = EVENT_TYPES.get(event["type"])
        if route is not None:
            for consumer in consumers_of(route.topic.name, among):
                expected[consumer].add(str(contract_event_id(event["id"])))
    return expected


async def assert_all_recorded(database_url: str, expected: Expected, within: float) -> None:
    """Wait until each consumer's inbox holds every event expected of it."""
    seen: dict[tuple[str, str], int] = {}

    async def all_recorded() -> bool:
        seen.update(await inbox_counts(database_url, expected))
        return all(seen[key] == len(ids) for key, ids in expected.items())

    try:
        await eventually(all_recorded, within=within)
    except TimeoutError:
        gaps = {key: (seen.get(key), len(ids)) for key, ids in expected.items()}
        raise AssertionError(f"inboxes short of what was sent (seen, sent): {gaps}") from None
