"""The invoice mirror's consumers on a database of their own: a batch's statements have the
same text whatever its size (keys bound as one array, rows inserted from one array per
column), so that each is compiled, prepared on a connection and planned by Postgres once,
not once per batch size."""

from __future__ import annotations

import pytest

from billing_contracts import Event, Topic
from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_devstack import Infra
from tests.helpers.invoicing.mirror_feed import feed_stories, told, topic_of
from tests.helpers.invoicing.replay import replay

pytestmark = [pytest.mark.integration]

START = 1_781_000_000
SIZES = (2, 5, 9)
"""Invoices a batch: each batch tells that many invoices' stories, alike but for their ids."""


def _batches() -> list[tuple[Topic, list[Event]]]:
    """For each size, that many fresh invoices' invoice events as one batch, then their
    payments' events as another."""
    stories = feed_stories(sum(SIZES), seed=11, account="acct_shapes", start=START)
    batches: list[tuple[Topic, list[Event]]] = []
    first = 0
    for size in SIZES:
        events = [
            e for story in stories[first : first + size] for e in told(story, attributed=True)
        ]
        first += size
        for topic in (STRIPE_INVOICES, STRIPE_PAYMENTS):
            batches.append((topic, [e for e in events if topic_of(e) == topic]))
    return batches


async def test_a_batch_s_statements_do_not_change_with_its_size(infra: Infra) -> None:
    batches = _batches()
    replayed = await replay(infra, batches)

    by_topic: dict[str, list[tuple[int, set[str]]]] = {}
    for (name, events, _), executed in zip(replayed.statements, replayed.texts, strict=True):
        by_topic.setdefault(name, []).append((events, set(executed)))
    for name, runs in by_topic.items():
        print(name, "statement texts over every size:", len(set().union(*(t for _, t in runs))))

    assert list(by_topic) == [STRIPE_INVOICES.name, STRIPE_PAYMENTS.name]
    for name, runs in by_topic.items():
        sizes = [events for events, _ in runs]
        assert sizes == sorted(set(sizes)), sizes  # each batch larger than the one before
        smallest = runs[0][1]
        assert len(smallest) >= 5
        for events, texts in runs[1:]:
            assert texts == smallest, (name, events, texts ^ smallest)
