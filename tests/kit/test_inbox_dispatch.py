"""A consumer of several event types of a topic is a table of event class → handler
(``billing_kit.inbox.by_event_type``): each event reaches the handler of its class, or of the
nearest base class the table names; a type the table does not name is ignored."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event
from billing_contracts.billing_accounts import (
    ACCOUNTS,
    StripeAccountDeauthorized,
    StripeAccountDeauthorizedSnapshot,
    StripeAccountSnapshot,
    StripeAccountUpdated,
)
from billing_kit.inbox import by_event_type

pytestmark = pytest.mark.unit

SESSION = cast(AsyncSession, object())
"""The consumer's transaction, passed through as it is (no database here)."""


def _updated() -> StripeAccountUpdated:
    snapshot = StripeAccountSnapshot(
        account_id="acct_1",
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        stripe_event_id="evt_1",
        stripe_created=1,
    )
    return StripeAccountUpdated(payload=snapshot)


def _deauthorized() -> StripeAccountDeauthorized:
    snapshot = StripeAccountDeauthorizedSnapshot(
        account_id="acct_1", stripe_event_id="evt_2", stripe_created=2
    )
    return StripeAccountDeauthorized(payload=snapshot)


class Seen:
    """A handler that remembers what it was given, under a name."""

    def __init__(self, log: list[tuple[str, AsyncSession, Event]], name: str) -> None:
        self.log, self.name = log, name

    async def __call__(self, session: AsyncSession, event: Event) -> None:
        self.log.append((self.name, session, event))


async def test_each_event_reaches_the_handler_of_its_type() -> None:
    seen: list[tuple[str, AsyncSession, Event]] = []
    dispatch = by_event_type(
        {
            StripeAccountUpdated: Seen(seen, "updated"),
            StripeAccountDeauthorized: Seen(seen, "deauthorized"),
        }
    )
    updated, deauthorized = _updated(), _deauthorized()
    await dispatch(SESSION, updated)
    await dispatch(SESSION, deauthorized)
    await dispatch(SESSION, updated)
    assert seen == [
        ("updated", SESSION, updated),
        ("deauthorized", SESSION, deauthorized),
        ("updated", SESSION, updated),
    ]


async def test_a_decoded_event_is_dispatched_by_the_type_it_carries() -> None:
    seen: list[tuple[str, AsyncSession, Event]] = []
    dispatch = by_event_type({StripeAccountDeauthorized: Seen(seen, "deauthorized")})
    decoded = ACCOUNTS.decode(_deauthorized().model_dump_json())
    await dispatch(SESSION, decoded)
    assert [(name, event) for name, _, event in seen] == [("deauthorized", decoded)]


async def test_a_type_the_table_does_not_name_is_ignored() -> None:
    seen: list[tuple[str, AsyncSession, Event]] = []
    dispatch = by_event_type({StripeAccountDeauthorized: Seen(seen, "deauthorized")})
    await dispatch(SESSION, _updated())
    await dispatch(SESSION, _updated())  # the second time from what the first one resolved
    assert seen == []
    await by_event_type({})(SESSION, _updated())  # an empty table takes nothing


async def test_a_base_class_takes_the_types_not_named_and_the_named_one_wins() -> None:
    seen: list[tuple[str, AsyncSession, Event]] = []
    dispatch = by_event_type(
        {Event: Seen(seen, "any other"), StripeAccountDeauthorized: Seen(seen, "deauthorized")}
    )
    updated, deauthorized = _updated(), _deauthorized()
    await dispatch(SESSION, deauthorized)
    await dispatch(SESSION, updated)
    assert [(name, event) for name, _, event in seen] == [
        ("deauthorized", deauthorized),
        ("any other", updated),
    ]
