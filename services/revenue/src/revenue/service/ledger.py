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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_contracts.revenue_ledger import LEDGER, LedgerEntryRecorded, LedgerKind
from billing_contracts.revenue_ledger import LedgerEntry as LedgerEntryPayload
from billing_kit.outbox import Publisher
from revenue.models import InvoiceFacts, LedgerEntry, PaymentLink
from revenue.repository.transaction import RevenueRepository
from revenue.rules import (
    ROLLUP_FIGURES,
    Figures,
    day_of,
    from_unix,
    kind_of_balance_transaction,
    kind_of_figures,
    rollup_delta,
)
from revenue.service import Revenue
from revenue.service.ports import Repository, StripeGateway

_ENTRY_EVENT_IDS = uuid.UUID("0c6f1f3e-5a4b-4d7e-8a53-2f5e7c1d9b42")


_Rollup = tuple[date, str, tuple[tuple[str, int], ...]]
"""Where and how much an entry adds to the rollups: day, currency, figures."""


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
    """The edge's transaction, where the entries' events are written beside them."""
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway

    @classmethod
    def of(cls, session: AsyncSession, outbox: Publisher, stripe: StripeGateway) -> Ledger:
        """The ledger over the edge's transaction (the consumers' and the reconciler's)."""
        return cls(session, RevenueRepository(session), outbox, stripe)

    @property
    def facts(self) -> Revenue:
        return Revenue(self.repository, self.stripe)

    async def record(self, movement: Movement) -> bool:
        """Record the movement once; True when it was new."""
        return await self.record_all([movement]) == 1

    async def record_all(self, movements: Sequence[Movement]) -> int:
        """Record each movement once (a balance transaction told twice counts once, as
        first told), in a few statements whatever their number; how many were new."""
        links = await self.attributions(movements)
        entries: dict[str, LedgerEntry] = {}
        for movement in movements:
            entry = _entry(movement, links[movement.charge_id])
            entries.setdefault(entry.entry_id, entry)
        new = await self.repository.record_entries(list(entries.values()))
        recorded = [entry for entry in entries.values() if entry.entry_id in new]
        for entry in recorded:
            self._add_to_rollups(entry, _rollup_of(entry), 1)
        await self.outbox.add(self.session, LEDGER, *map(announcement, recorded))
        return len(recorded)

    async def correct(self, movement: Movement) -> bool:
        """Make a recorded entry say what Stripe says (its kind, figures and day), its
        rollups moved by the difference; recorded when missing. True when it changed."""
        figures = movement.figures
        entry = await self.repository.ledger_entry(figures.balance_transaction_id)
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
        await self.repository.flush()
        self._add_to_rollups(entry, before, -1)
        self._add_to_rollups(entry, after, 1)
        return True

    def _add_to_rollups(self, entry: LedgerEntry, rollup: _Rollup, sign: int) -> None:
        """Add an entry's figures to its rollups (``sign`` -1: take them out)."""
        day, currency, delta = rollup
        self.repository.add_to_rollups(
            agency_id=entry.agency_id,
            workspace_id=entry.workspace_id or "",
            day=day,
            currency=currency,
            delta={name: sign * value for name, value in delta},
            entries=sign,
        )

    async def dispute_movements(self, template: Movement, dispute_id: str) -> list[Movement]:
        """A dispute's withdrawal and reinstatement: its balance transactions, from Stripe."""
        dispute = await self.stripe.dispute(template.account, dispute_id)
        charge = dispute["charge"]
        charge_id = charge if isinstance(charge, str) else charge["id"]
        return read_movements(
            replace(template, charge_id=charge_id), list(dispute["balance_transactions"])
        )

    async def fee_refund_movements(self, template: Movement, fee_id: str) -> list[Movement]:
        """The platform fee given back to the agency, as the agency's balance saw it."""
        transactions = await self.stripe.fee_refund_transactions(fee_id, template.account)
        return read_movements(template, list(transactions))

    async def figures_of(self, account: str, txn_id: str) -> Figures:
        return Figures.from_stripe(await self.stripe.balance_transaction(account, txn_id))

    async def attributions(self, movements: Sequence[Movement]) -> dict[str, PaymentLink]:
        """Where each movement's charge belongs (charge id → link), resolved once and kept:
        the links known, then those the events carry whole (the account's owner known, the
        invoice's facts known or no invoice), each of the rest on its own."""
        firsts: dict[str, Movement] = {}
        for movement in movements:
            firsts.setdefault(movement.charge_id, movement)
        links = await self.repository.payment_links(firsts)
        unknown = [movement for charge, movement in firsts.items() if charge not in links]
        if not unknown:
            return links
        owners = await self.repository.agencies_of_accounts({m.account for m in unknown})
        invoices = await self.repository.known_invoices(
            [i for m in unknown if (i := _told_invoice(m)) is not None]
        )
        told: list[PaymentLink] = []
        for movement in unknown:
            owner, attribution = owners.get(movement.account), movement.attribution
            invoice_id = _told_invoice(movement)
            facts = invoices.get(invoice_id) if invoice_id is not None else None
            if attribution is None or owner is None or (invoice_id is not None and facts is None):
                links[movement.charge_id] = await self._attribute(movement)
                continue
            told.append(_link(movement.charge_id, attribution.payment_intent_id, invoice_id,
                              owner, attribution.workspace_id, facts))  # fmt: skip
        return links | await self.repository.save_payment_links(told)

    async def attribution(self, movement: Movement) -> PaymentLink:
        """Where a movement's charge belongs."""
        return (await self.attributions([movement]))[movement.charge_id]

    async def _attribute(self, movement: Movement) -> PaymentLink:
        """Where a charge not linked yet belongs, resolved and kept: from what the event
        carries, else (an older event) from Stripe."""
        account, charge_id = movement.account, movement.charge_id
        owner = await self.repository.agency_of_account(account)
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
        facts = None
        if invoice_id is not None:
            facts = await self.facts.invoice_facts(
                account, invoice_id, told, agency_hint=movement.agency_hint
            )
            agency_id = facts.agency_id or agency_id
        # The account's owner, when known, whatever an object's metadata says.
        agency_id = owner or agency_id or await self.facts.agency_of(account, movement.agency_hint)
        if owner is None and agency_id is not None:
            # Whose account it is, from now on (an account with movements is reconciled).
            await self.repository.remember_account(account, agency_id)
        link = _link(charge_id, payment_intent, invoice_id, agency_id, workspace_id, facts)
        return (await self.repository.save_payment_links([link]))[charge_id]


def _told_invoice(movement: Movement) -> str | None:
    """The invoice the event says the charge paid, if it says."""
    return movement.attribution.invoice_id if movement.attribution is not None else None


def _link(
    charge_id: str,
    payment_intent_id: str | None,
    invoice_id: str | None,
    agency_id: str | None,
    workspace_id: str | None,
    facts: InvoiceFacts | None,
) -> PaymentLink:
    """A charge's link; an invoice's known facts name its workspace and subscription."""
    return PaymentLink(
        charge_id=charge_id,
        payment_intent_id=payment_intent_id,
        invoice_id=invoice_id,
        agency_id=agency_id,
        workspace_id=(facts.workspace_id if facts else None) or workspace_id,
        subscription_id=facts.subscription_id if facts else None,
    )


def _entry(movement: Movement, link: PaymentLink) -> LedgerEntry:
    """The ledger entry of a movement of a charge attributed by ``link``."""
    if link.agency_id is None:
        raise UnattributedMovementError(
            f"no agency is known for {movement.account} ({movement.figures})"
        )
    figures = movement.figures
    return LedgerEntry(
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
        occurred_at=from_unix(figures.created) if figures.created else movement.occurred_at,
    )


def read_movements(template: Movement, transactions: Iterable[dict[str, Any]]) -> list[Movement]:
    """The ledger movements among balance transactions read from Stripe, like ``template``."""
    return _movements(
        template,
        (
            (kind_of_balance_transaction(t), Figures.from_stripe(t), str(t.get("source") or ""))
            for t in transactions
        ),
    )


def carried_movements(template: Movement, carried: Iterable[BalanceFigures]) -> list[Movement]:
    """The ledger movements among balance transactions an event carries."""
    return _movements(
        template,
        ((kind_of_figures(f), Figures.from_contract(f), f.source or "") for f in carried),
    )


def _movements(
    template: Movement, found: Iterable[tuple[LedgerKind | None, Figures, str]]
) -> list[Movement]:
    """Each (kind, figures, source) that is a ledger movement, like ``template``."""
    return [
        replace(template, kind=kind, figures=figures, source_id=source_id)
        for kind, figures, source_id in found
        if kind is not None
    ]


def _rollup_of(entry: LedgerEntry) -> _Rollup:
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
