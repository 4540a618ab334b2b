"""revenue's rules besides the ledger itself (``service.ledger``), one ``Revenue``: what it
knows of invoices, subscriptions, accounts and names (to attribute movements and to tell
whether subscriptions still charge; this module), the payouts (``service.payouts``) and
what the owner reads: the summary from the rollups, MRR, charging health
(``service.summary``). The scheduled reconciliation with Stripe is ``service.reconciler``.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction. The queries
and Stripe's reads are ports (``service.ports``), wired by ``Revenue.build`` / ``Revenue.of``.
Stripe does not order events, so every fact is applied monotonically: a status only moves
forward (``billing_kit.stripe_states``: an invoice's by how far it got, then in Stripe's
time), a paid invoice stays paid, a first failure only gets earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.billing_stripe import PaymentAttribution
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.runtime import Runtime
from billing_kit.stripe_states import (
    InvoiceState,
    merge_invoice_state,
    subscription_status_applies,
)
from revenue.models import DisplayName, InvoiceFacts, SubscriptionStateRow
from revenue.repository.transaction import RevenueRepository
from revenue.rules import MRR_STATUSES, monthly_cents
from revenue.schemas import Names
from revenue.service.payouts import Payouts
from revenue.service.ports import FactsStripe, Repository
from revenue.service.summary import OwnerReads
from revenue.stripe_gateway import RevenueStripe, merged_metadata, subscription_of


def invoice_status_applies(current: InvoiceFacts, status: str | None, seen_at: int) -> bool:
    """Whether a snapshot's status replaces the one kept: the first one told, else one
    further along, or as far along and newer in Stripe's time (``billing_kit.stripe_states``:
    an invoice never goes back to open)."""
    if status is None:
        return False
    if current.status is None:
        return True
    kept = InvoiceState(current.status, current.status_seen_at)
    return merge_invoice_state(kept, InvoiceState(status, seen_at))[1]


@dataclass
class Revenue(OwnerReads, Payouts):
    repository: Repository
    stripe: FactsStripe

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> Revenue:
        """The service for one request's transaction."""
        return cls.of(session, RevenueStripe(runtime.stripe))

    @classmethod
    def of(cls, session: AsyncSession, stripe: FactsStripe) -> Revenue:
        """The service over the edge's transaction, with a Stripe gateway of the caller's
        (the consumers are given theirs by ``consumers.handlers``)."""
        return cls(RevenueRepository(session), stripe)

    # --- accounts ----------------------------------------------------------------------

    async def remember_account(
        self, account_id: str, agency_id: str, *, owner: bool = False
    ) -> None:
        await self.repository.remember_account(account_id, agency_id, owner=owner)

    async def agency_of(self, account_id: str, hint: str | None = None) -> str | None:
        """The agency owning a connected account: known, else the one the event names
        (webhook-ingest's replica of catalog's agencies), else the account's metadata."""
        known = await self.repository.agency_of_account(account_id)
        if known is not None:
            return known
        found = hint or await self.stripe.agency_of_account(account_id)
        if found is not None:
            await self.remember_account(account_id, found)
        return found

    # --- invoices --------------------------------------------------------------------

    async def apply_invoices(
        self, events: Sequence[tuple[str | None, str, StripeInvoiceSnapshot]]
    ) -> None:
        """Invoice events (agency named by the event, type, snapshot) in their order: their
        invoices' facts read and locked together, each event applied to them, written out
        together, and each subscription met registered with what its first invoice told."""
        told = [event for event in events if event[2].stripe_account_id is not None]
        # (the platform's own invoices, SaaS fees, are not client revenue)
        invoices = await self.repository.invoices_locked({s.invoice_id for *_, s in told})
        subscriptions: dict[str, tuple[str, str | None]] = {}
        for agency_hint, event_type, snapshot in told:
            facts = invoices[snapshot.invoice_id]
            await self._apply_invoice_event(facts, agency_hint, event_type, snapshot)
            if facts.subscription_id and facts.agency_id:
                subscriptions.setdefault(
                    facts.subscription_id, (facts.agency_id, facts.workspace_id)
                )
        await self.repository.flush()
        await self.repository.register_subscriptions(subscriptions)

    async def _apply_invoice_event(
        self,
        facts: InvoiceFacts,
        agency_hint: str | None,
        event_type: str,
        snapshot: StripeInvoiceSnapshot,
    ) -> None:
        account = snapshot.stripe_account_id
        assert account is not None
        agency = snapshot.metadata.get("agency_id") or agency_hint
        self._fill(
            facts,
            account=account,
            agency=agency or await self.agency_of(account),
            workspace=snapshot.metadata.get("workspace_id"),
            subscription=snapshot.subscription_id,
            created=snapshot.created,
        )
        if invoice_status_applies(facts, snapshot.status, snapshot.stripe_created):
            facts.status = snapshot.status
            facts.status_seen_at = snapshot.stripe_created
        if snapshot.status == "paid":
            paid_at = snapshot.paid_at or snapshot.stripe_created
            facts.paid_at = max(facts.paid_at or 0, paid_at)
        if event_type == "invoice.payment_failed":
            failed_at = snapshot.stripe_created
            facts.first_failed_at = min(facts.first_failed_at or failed_at, failed_at)

    async def invoice_facts(
        self,
        account: str,
        invoice_id: str,
        told: PaymentAttribution | None = None,
        *,
        agency_hint: str | None = None,
    ) -> InvoiceFacts:
        """Whose invoice it is: known from its events, else from what a payment's event
        carries (``told``), else (an older event) read from Stripe. Known facts are read
        without a lock (they never change once known); only filling them in locks the row."""
        known = await self.repository.invoice(invoice_id)
        if known is not None and known.agency_id is not None:
            return known
        facts = await self.repository.invoice(invoice_id, for_update=True)
        assert facts is not None
        if facts.agency_id is None and told is not None:
            self._fill(
                facts,
                account=account,
                agency=told.agency_id or await self.agency_of(account, agency_hint),
                workspace=told.workspace_id,
                subscription=told.subscription_id,
                created=told.invoice_created,
            )
            await self.repository.flush()
        elif facts.agency_id is None:
            invoice = await self.stripe.invoice(account, invoice_id)
            metadata = merged_metadata(invoice)
            self._fill(
                facts,
                account=account,
                agency=metadata.get("agency_id") or await self.agency_of(account, agency_hint),
                workspace=metadata.get("workspace_id"),
                subscription=subscription_of(invoice),
                created=invoice.get("created"),
            )
            await self.repository.flush()
        return facts

    @staticmethod
    def _fill(
        facts: InvoiceFacts,
        *,
        account: str,
        agency: str | None,
        workspace: str | None,
        subscription: str | None,
        created: int | None,
    ) -> None:
        facts.stripe_account_id = facts.stripe_account_id or account
        facts.agency_id = facts.agency_id or agency
        facts.workspace_id = facts.workspace_id or workspace
        facts.subscription_id = facts.subscription_id or subscription
        facts.created = facts.created or created

    # --- subscriptions ---------------------------------------------------------------

    async def apply_subscription(
        self, agency_hint: str | None, snapshot: StripeSubscriptionSnapshot
    ) -> None:
        account = snapshot.stripe_account_id
        if account is None:
            return  # the platform's own subscriptions (SaaS fees) are not client billing
        agency = snapshot.metadata.get("agency_id") or agency_hint or await self.agency_of(account)
        if agency is None:
            return
        health = await self.repository.ensure_subscription(
            snapshot.subscription_id, agency, snapshot.metadata.get("workspace_id")
        )
        health.workspace_id = health.workspace_id or snapshot.metadata.get("workspace_id")
        product = snapshot.items[0].product_id if snapshot.items else None
        if subscription_status_applies(
            health.status,
            health.status_seen_at,
            snapshot.status,
            snapshot.stripe_created,
            snapshot.previous_status,
        ):
            health.status = snapshot.status
            health.status_seen_at = snapshot.stripe_created
            health.stripe_product_id = product or health.stripe_product_id
        health.stripe_product_id = health.stripe_product_id or product
        await self.repository.flush()

    async def record_subscription_state(self, snapshot: StripeSubscriptionSnapshot) -> None:
        """The subscription as the event tells it, kept as told (MRR's input)."""
        state = _state_of(snapshot)
        if snapshot.stripe_account_id is not None and state is not None:
            await self.repository.record_subscription_state(state)

    # --- names -----------------------------------------------------------------------

    async def remember_name(
        self, kind: str, key: str, agency_id: str, name: str, revision: int
    ) -> None:
        """What a workspace or a product is called (its latest revision wins)."""
        await self.repository.remember_name(
            DisplayName(kind=kind, key=key, agency_id=agency_id, name=name, revision=revision)
        )

    async def names(self, agency_id: str) -> Names:
        return Names(
            workspaces=await self.repository.names_of(agency_id, "workspace"),
            products=await self.repository.names_of(agency_id, "product"),
        )


def _state_of(snapshot: StripeSubscriptionSnapshot) -> SubscriptionStateRow | None:
    """The subscription's state as the event tells it; None when the event names no price
    amount while the status would count (an amount it does not say is not guessed)."""
    priced = [
        (item.unit_amount, item.quantity or 1, item.interval or "month", item.interval_count or 1)
        for item in snapshot.items
        if item.unit_amount is not None
    ]
    if not priced and snapshot.status in MRR_STATUSES:
        return None
    return SubscriptionStateRow(
        subscription_id=snapshot.subscription_id,
        at=snapshot.stripe_created,
        status=snapshot.status,
        monthly_cents=monthly_cents(priced),
        currency=snapshot.currency or "usd",
    )
