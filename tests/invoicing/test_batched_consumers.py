"""The invoice mirror's consumers on a database of their own, a batch at a time: many
invoices' events, shuffled and some twice, end in the same rows and the same announcements
as the mirror applying each event alone on the ORM's rows (in a transaction of its own, or
event by event in the batch's), and a batch takes a few statements whatever its size."""

from __future__ import annotations

import pytest

from billing_devstack import Infra
from tests.helpers.invoicing.mirror_feed import mixed_feed, schedule
from tests.helpers.invoicing.replay import replay

pytestmark = [pytest.mark.integration]

START = 1_780_000_000


async def test_batches_leave_what_one_event_at_a_time_leaves(infra: Infra) -> None:
    events = mixed_feed(12, seed=7, account="acct_batches", start=START)
    batches = schedule(events, max_batch=200)

    alone = await replay(infra, batches, mirror_alone=True, one_at_a_time=True)
    event_by_event = await replay(infra, batches, mirror_alone=True)
    batches_of_one = await replay(infra, batches, one_at_a_time=True)
    together = await replay(infra, batches)

    for replayed in (event_by_event, batches_of_one, together):
        assert replayed.tables == alone.tables
        assert replayed.announced == alone.announced
    assert len(alone.tables["invoices"]) == 14
    assert len(alone.tables["refunds"]) == 24
    assert sum(row["failed"] for row in alone.tables["refunds"].values()) == 12
    assert {kind for _, kind, _ in alone.announced} >= {
        "invoice.mirrored",
        "invoice.paid",
        "invoice.refunded",
        "invoice.dispute_closed",
    }
    # A batch's statements do not grow with its events (but for the rare per-event paths).
    assert [events for _, events, _ in together.statements] == [135, 158, 11]
    assert max(statements for *_, statements in together.statements) <= 15
    for name, replayed in (
        ("alone", alone),
        ("event by event", event_by_event),
        ("batches of one", batches_of_one),
        ("batches", together),
    ):
        statements = sum(n for *_, n in replayed.statements)
        print(name, statements, f"{replayed.cpu_seconds:.3f}s", replayed.statements[:3])
