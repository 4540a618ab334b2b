"""Replaying normalized events into a fresh revenue database, in process, through the same
handlers the service's consumers call — without the inbox, so that repeated events reach the
ledger itself."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS
from billing_devstack import Infra
from billing_kit.db import create_engine, session_factory, unit_of_work
from billing_kit.inbox import Batched, Subscriber
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from revenue.consumers import handlers
from revenue.models import kit_tables
from revenue.schemas import Summary
from revenue.service import Revenue
from revenue.stripe_gateway import RevenueStripe
from tests.helpers.databases import create_database, migrate
from tests.helpers.kafka import read_topic

TOPICS = (STRIPE_PAYMENTS, STRIPE_INVOICES, STRIPE_SUBSCRIPTIONS)


def _belongs_to(event: Event, account: str) -> bool:
    payload = event.payload
    return account in (
        getattr(payload, "stripe_account_id", None),
        getattr(payload, "paying_account_id", None),
    )


async def events_of_account(bootstrap: str, account: str) -> list[tuple[Topic, Event]]:
    """Every normalized event about ``account`` on the topics revenue consumes."""
    found: list[tuple[Topic, Event]] = []
    for topic in TOPICS:
        for record in await read_topic(bootstrap, topic.name):
            event = topic.decode(record.value)
            if _belongs_to(event, account):
                found.append((topic, event))
    return found


def shuffled_with_repeats(
    events: list[tuple[Topic, Event]], seed: int, repeat_share: float = 0.3
) -> list[tuple[Topic, Event]]:
    """The events in a random order, a share of them twice: the repeat under a new event id
    (as a replay or a second Stripe event about the same movement would come) and without
    the balance figures webhook-ingest may not have added yet."""
    rng = random.Random(seed)
    repeats = rng.sample(events, k=round(len(events) * repeat_share))
    mixed = events + [(topic, _repeated(event)) for topic, event in repeats]
    rng.shuffle(mixed)
    return mixed


def _repeated(event: Event) -> Event:
    payload = event.payload
    if getattr(payload, "figures", None) is not None:
        payload = payload.model_copy(update={"figures": None})
    return event.model_copy(update={"event_id": uuid.uuid4(), "payload": payload})


async def _apply(handler: Subscriber, session: AsyncSession, batch: list[Event]) -> None:
    """A batch into one consumer's handler, as the inbox gives it."""
    if isinstance(handler, Batched):
        await handler.apply(session, batch)
        return
    for event in batch:
        await handler(session, event)
        await session.flush()
        session.expunge_all()


def in_batches(
    events: list[tuple[Topic, Event]], max_batch: int
) -> list[tuple[Topic, list[Event]]]:
    """Runs of consecutive events of one topic, up to ``max_batch`` each, in order (as a
    consumer is given them); a second copy of an event in a run is left out, as the inbox
    does."""
    runs: list[tuple[Topic, list[Event]]] = []
    for topic, event in events:
        if not runs or runs[-1][0] != topic or len(runs[-1][1]) == max_batch:
            runs.append((topic, []))
        if event.event_id not in {e.event_id for e in runs[-1][1]}:
            runs[-1][1].append(event)
    return runs


async def replay(
    infra: Infra, agency_id: str, events: list[tuple[Topic, Event]], max_batch: int = 1
) -> dict[str, Any]:
    """The agency's summary after applying ``events``, in order, to a fresh database, in
    batches of up to ``max_batch`` consecutive events of a topic."""
    url = await create_database(infra.database_url, "revenue_replay")
    await asyncio.to_thread(migrate, url, ["revenue"])
    engine = create_engine(url, pool_size=2)
    assert infra.stripe_api_base is not None
    sessions = session_factory(engine)
    try:
        async with stripe_client("sk_test_emulator", infra.stripe_api_base) as client:
            gateway = RevenueStripe(client)
            consumers = handlers(Outbox(kit_tables.outbox), gateway).values()
            for topic, batch in in_batches(events, max_batch):
                for handler in (handler for of, handler in consumers if of == topic):
                    async with unit_of_work(sessions) as session:
                        await _apply(handler, session, batch)
            async with unit_of_work(sessions) as session:
                found = await Revenue.of(session, gateway).summary_json(
                    agency_id, date(2020, 1, 1), date(2099, 12, 31), "usd"
                )
    finally:
        await engine.dispose()
    # The figures of the events alone (how the live ledger compared with Stripe is not theirs).
    return Summary.model_validate_json(found).model_dump(mode="json", exclude={"reconciliation"})
