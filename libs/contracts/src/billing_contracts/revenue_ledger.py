"""``revenue.ledger.v1`` — public: every money movement of an agency's client billing, once.

Published by revenue; key = agency id, so one agency's entries stay in order on one partition.
One event per ledger entry, i.e. per Stripe balance transaction on the agency's connected
account: a charge (its platform fee included), a refund, a refund that failed (its amount
given back), a dispute withdrawal or reinstatement, an application fee refund. The figures
are Stripe's to the cent: ``net_cents = gross_cents - stripe_fee_cents - platform_fee_cents``;
all amounts are signed from the agency's point of view (money out is negative).

This topic is a contract for consumers outside the platform. Within ``v1`` fields are only
ever added, and only as optional fields; consumers must ignore fields they do not know.
Anything else (a renamed, removed or re-typed field, a changed meaning) is published on a
new topic ``revenue.ledger.v2`` alongside this one until its consumers have moved.
``event_id`` is derived from ``entry_id``: a consumer that sees one twice (at-least-once
delivery) can drop the repeat.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic

LedgerKind = Literal[
    "charge", "refund", "refund_failure", "dispute", "dispute_reversal", "application_fee_refund"
]


class LedgerEntry(Payload):
    """One money movement as the agency's Stripe balance saw it."""

    entry_id: str
    """The Stripe balance transaction id (``txn_…``): unique per movement."""
    kind: LedgerKind
    agency_id: str
    workspace_id: str | None = None
    invoice_id: str | None = None
    """The Stripe invoice the movement belongs to, when it was paid through one."""
    subscription_id: str | None = None
    charge_id: str | None = None
    source_id: str | None = None
    """The Stripe object that moved the money: charge, refund, dispute or fee refund."""
    stripe_account_id: str
    currency: str
    gross_cents: int
    stripe_fee_cents: int
    platform_fee_cents: int
    net_cents: int
    occurred_at: AwareDatetime


class LedgerEntryRecorded(Event):
    """A money movement was recorded in the revenue ledger."""

    type: Literal["ledger_entry.recorded"] = "ledger_entry.recorded"
    payload: LedgerEntry
    aggregate_field: ClassVar[str] = "agency_id"


LEDGER = Topic(
    name="revenue.ledger.v1",
    description=(
        "Public. One event per money movement of an agency's client billing (charge, refund, "
        "refund_failure, dispute, dispute_reversal, application_fee_refund), with Stripe's balance "
        "transaction figures in integer cents. Key: agency id. Versioning: within v1 only "
        "optional fields are added and consumers ignore unknown fields; any other change is "
        "published on revenue.ledger.v2. event_id is stable per entry_id, so a repeated "
        "delivery can be dropped."
    ),
    events=(LedgerEntryRecorded,),
    public=True,
)
