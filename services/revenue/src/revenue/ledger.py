"""Recording money movements: one ledger entry per Stripe balance transaction.

The guarantee: the same events, in any order and any number of times, give the same entries
and the same rollups. The balance transaction id is the entry's primary key, so a movement
told twice (``charge.succeeded`` and ``payment_intent.succeeded`` name the same transaction;
Stripe redelivers) is inserted once, and its rollup and its public event are written only
by the insert that was new, in the same transaction.

An entry's day is its balance transaction's ``created``, whatever event told of it.

Attribution never waits for another event: which invoice a charge paid and whose invoice it
is come with the event (webhook-ingest read them from Stripe before publishing it), and are
kept per charge so that every later movement of that charge (refunds, disputes, fee
refunds) lands in the same place. Only an event published before it carried them (replayed
from an older log) makes revenue read them from Stripe; a Stripe error there is waited out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_contracts.revenue_ledger import LEDGER, LedgerEntryRecorded, LedgerKind
from billing_contracts.revenue_ledger import LedgerEntry as LedgerEntryPayload
from billing_kit.outbox import Outbox
from revenue import repository
from revenue.models import LedgerEntry, PaymentLink
from revenue.rules import (
    ROLLUP_FIGURES,
    Figures,
    day_of,
    from_unix,
    kind_of_balance_transaction,
    rollup_delta,
)
from revenue.service import Revenue
from revenue.stripe_gateway import RevenueStripe

_ENTRY_EVENT_IDS = uuid.UUID("0c6f1f3e-5a4b-4d7e-8a53-2f5e7c1d9b42")


class UnattributedMovementError(Exception):
    """A movement on an account no agency is known for: retried, then dead-lettered."""


def entry_event_id(entry_id: str) -> uuid.UUID:
    """The same entry always announces itself with the same event id."""
    return uuid.uuid5(_ENTRY_EVENT_IDS, entry_id)


@dataclass(frozen=True)
class Movement:
    """A balance transaction of a connected account, and the charge it belongs to."""

    kind: LedgerKind
    figures: Figures
    account: str
    charge_id: str
    source_id: str
    occurred_at: datetime
    """When the event says it happened: the day only when the figures lack their own."""
    attribution: PaymentAttribution | None = None
    """Where the charge's money belongs, when the event carries it."""
    agency_hint: str | None = None
    """The agency the event names (the owner of its account)."""


@dataclass
class Ledger:
    session: AsyncSession
    outbox: Outbox
    stripe: RevenueStripe

    @property
    def facts(self) -> Revenue:
        return Revenue(self.session, self.stripe)

    async def record(self, movement: Movement) -> bool:
        """Record the movement once; True when it was new."""
        link = await self.attribution(movement)
        if link.agency_id is None:
            raise UnattributedMovementError(
                f"no agency is known for {movement.account} ({movement.figures})"
            )
        figures = movement.figures
        occurred_at = from_unix(figures.created) if figures.created else movement.occurred_at
        entry = LedgerEntry(
            entry_id=figures.balance_transaction_id,
            kind=movement.kind,
            agency_id=link.agency_id,
            workspace_id=link.workspace_id,
            invoice_id=link.invoice_id,
            subscription_id=link.subscription_id,
            charge_id=movement.charge_id,
            source_id=movement.source_id,
            stripe_account_id=movement.account,
            currency=figures.currency,
            gross_cents=figures.gross,
            stripe_fee_cents=figures.stripe_fee,
            platform_fee_cents=figures.platform_fee,
            net_cents=figures.net,
            occurred_at=occurred_at,
        )
        if not await repository.record_entry(self.session, entry):
            return False
        repository.add_to_rollups(
            self.session,
            agency_id=entry.agency_id,
            workspace_id=entry.workspace_id or "",
            day=day_of(occurred_at),
            currency=entry.currency,
            delta=rollup_delta(
                entry.kind, figures.gross, figures.stripe_fee, figures.platform_fee, figures.net
            ),
        )
        await self.outbox.add(self.session, LEDGER, announcement(entry))
        return True

    async def correct(self, movement: Movement) -> bool:
        """Make a recorded entry say what Stripe says (its kind, figures and day), its
        rollups moved by the difference; recorded when missing. True when it changed."""
        figures = movement.figures
        entry = await repository.ledger_entry(self.session, figures.balance_transaction_id)
        if entry is None:
            return await self.record(movement)
        occurred_at = from_unix(figures.created) if figures.created else movement.occurred_at
        before = _rollup_of(entry)
        entry.kind, entry.currency = movement.kind, figures.currency
        entry.gross_cents, entry.net_cents = figures.gross, figures.net
        entry.stripe_fee_cents, entry.platform_fee_cents = figures.stripe_fee, figures.platform_fee
        entry.occurred_at = occurred_at
        after = _rollup_of(entry)
        if after == before:
            return False
        await self.session.flush()
        for (day, currency, delta), sign in ((before, -1), (after, 1)):
            repository.add_to_rollups(
                self.session,
                agency_id=entry.agency_id,
                workspace_id=entry.workspace_id or "",
                day=day,
                currency=currency,
                delta={name: sign * value for name, value in delta},
                entries=sign,
            )
        return True

    async def record_each(
        self, template: Movement, found: Iterable[tuple[LedgerKind | None, Figures, str]]
    ) -> None:
        """Record each (kind, figures, source) that is a ledger movement, like ``template``."""
        for kind, figures, source_id in found:
            if kind is not None:
                await self.record(
                    replace(template, kind=kind, figures=figures, source_id=source_id)
                )

    async def record_transactions(
        self, template: Movement, transactions: Iterable[dict[str, Any]]
    ) -> None:
        """The ledger-relevant ones among balance transactions read from Stripe."""
        await self.record_each(
            template,
            (
                (kind_of_balance_transaction(t), Figures.from_stripe(t), str(t.get("source") or ""))
                for t in transactions
            ),
        )

    async def record_carried(self, template: Movement, carried: Iterable[BalanceFigures]) -> None:
        """The ledger-relevant ones among balance transactions an event carries."""
        await self.record_each(
            template,
            (
                (
                    kind_of_balance_transaction(
                        {"type": f.type, "reporting_category": f.reporting_category}
                    ),
                    Figures.from_contract(f),
                    f.source or "",
                )
                for f in carried
            ),
        )

    async def record_dispute(self, template: Movement, dispute_id: str) -> None:
        """A dispute's withdrawal and reinstatement: its balance transactions, from Stripe."""
        dispute = await self.stripe.dispute(template.account, dispute_id)
        charge = dispute["charge"]
        charge_id = charge if isinstance(charge, str) else charge["id"]
        await self.record_transactions(
            replace(template, charge_id=charge_id), list(dispute["balance_transactions"])
        )

    async def record_fee_refunds(self, template: Movement, fee_id: str) -> None:
        """The platform fee given back to the agency, as the agency's balance saw it."""
        transactions = await self.stripe.fee_refund_transactions(fee_id, template.account)
        await self.record_transactions(template, list(transactions))

    async def figures_of(self, account: str, txn_id: str) -> Figures:
        return Figures.from_stripe(await self.stripe.balance_transaction(account, txn_id))

    async def attribution(self, movement: Movement) -> PaymentLink:
        """Where a charge's movements belong, resolved once and kept: from what the event
        carries, else (an older event) from Stripe."""
        account, charge_id = movement.account, movement.charge_id
        link = await repository.payment_link(self.session, charge_id)
        if link is not None:
            return link
        owner = await repository.agency_of_account(self.session, account)
        told = movement.attribution
        if told is not None:
            payment_intent, invoice_id = told.payment_intent_id, told.invoice_id
            agency_id, workspace_id = told.agency_id, told.workspace_id
        else:
            charge = await self.stripe.charge(account, charge_id)
            payment_intent = charge.get("payment_intent")
            if isinstance(payment_intent, dict):
                payment_intent = payment_intent["id"]
            invoice_id = (
                await self.stripe.invoice_paid_by(account, payment_intent)
                if payment_intent
                else None
            )
            metadata = charge.get("metadata") or {}
            agency_id, workspace_id = metadata.get("agency_id"), metadata.get("workspace_id")
        subscription_id = None
        if invoice_id is not None:
            facts = await self.facts.invoice_facts(
                account, invoice_id, told, agency_hint=movement.agency_hint
            )
            agency_id = facts.agency_id or agency_id
            workspace_id = facts.workspace_id or workspace_id
            subscription_id = facts.subscription_id
        link = PaymentLink(
            charge_id=charge_id,
            payment_intent_id=payment_intent,
            invoice_id=invoice_id,
            # The account's owner, when known, whatever an object's metadata says.
            agency_id=owner
            or agency_id
            or await self.facts.agency_of(account, movement.agency_hint),
            workspace_id=workspace_id,
            subscription_id=subscription_id,
        )
        if owner is None and link.agency_id is not None:
            # Whose account it is, from now on (an account with movements is reconciled).
            await repository.remember_account(self.session, account, link.agency_id)
        saved = await repository.save_payment_link(self.session, link)
        return saved or await self._link_made_meanwhile(charge_id)

    async def _link_made_meanwhile(self, charge_id: str) -> PaymentLink:
        """The link another transaction saved first (a charge's intent and charge events in
        two consumers' batches): the first word stays."""
        link = await repository.payment_link(self.session, charge_id)
        assert link is not None
        return link


def _rollup_of(entry: LedgerEntry) -> tuple[date, str, tuple[tuple[str, int], ...]]:
    """Where and how much an entry adds to the rollups."""
    delta = rollup_delta(
        entry.kind, entry.gross_cents, entry.stripe_fee_cents, entry.platform_fee_cents,
        entry.net_cents,
    )  # fmt: skip
    return day_of(entry.occurred_at), entry.currency, tuple((n, delta[n]) for n in ROLLUP_FIGURES)


def announcement(entry: LedgerEntry) -> LedgerEntryRecorded:
    return LedgerEntryRecorded(
        event_id=entry_event_id(entry.entry_id),
        occurred_at=entry.occurred_at,
        agency_id=entry.agency_id,
        workspace_id=entry.workspace_id,
        payload=LedgerEntryPayload.model_validate(entry.model_dump(exclude={"recorded_at"})),
    )
