"""revenue's rules besides the ledger itself: what it knows of invoices, subscriptions and
accounts (to attribute movements and to tell whether subscriptions still charge), and the
owner's summary read from the rollups.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction. Stripe does
not order events, so every fact is applied monotonically: a status only moves forward in
Stripe's time, a paid invoice stays paid, a first failure only gets earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.billing_stripe import PaymentAttribution
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from revenue import repository
from revenue.models import InvoiceFacts, SubscriptionHealth
from revenue.rules import FIRST_PAGE, WorkspacePage, from_unix
from revenue.schemas import SubscriptionCharging
from revenue.stripe_gateway import RevenueStripe, merged_metadata, subscription_of

_INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}
_FINAL_INVOICE = {"paid", "void"}
_FINAL_SUBSCRIPTION = {"canceled", "incomplete_expired"}
_SUBSCRIPTION_RANK = {"incomplete": 0, "trialing": 1, "active": 2, "past_due": 3, "unpaid": 4}


def subscription_status_applies(
    current: SubscriptionHealth, snapshot: StripeSubscriptionSnapshot
) -> bool:
    """Whether a snapshot's status replaces the one kept: never after the end; else when
    newer in Stripe's time, or in the same second when it says it follows the kept status
    (``previous_status``) or is further along."""
    if current.status in _FINAL_SUBSCRIPTION:
        return False
    if current.status is None or snapshot.stripe_created > current.status_seen_at:
        return True
    if snapshot.stripe_created < current.status_seen_at:
        return False
    if snapshot.previous_status is not None and snapshot.previous_status == current.status:
        return True
    rank = _SUBSCRIPTION_RANK.get(snapshot.status, 5)
    return rank > _SUBSCRIPTION_RANK.get(current.status, 5)


def invoice_status_applies(current: InvoiceFacts, status: str | None, seen_at: int) -> bool:
    """Whether a snapshot's status replaces the one kept: never after paid or void; else
    when newer in Stripe's time, or as new and further along (Stripe's times are seconds)."""
    if status is None or current.status in _FINAL_INVOICE:
        return False
    if seen_at != current.status_seen_at:
        return seen_at > current.status_seen_at
    return _INVOICE_RANK.get(status, 0) >= _INVOICE_RANK.get(current.status or "", -1)


@dataclass
class Revenue:
    session: AsyncSession
    stripe: RevenueStripe

    # --- accounts ----------------------------------------------------------------------

    async def remember_account(
        self, account_id: str, agency_id: str, *, owner: bool = False
    ) -> None:
        await repository.remember_account(self.session, account_id, agency_id, owner=owner)

    async def agency_of(self, account_id: str, hint: str | None = None) -> str | None:
        """The agency owning a connected account: known, else the one the event names
        (webhook-ingest's replica of catalog's agencies), else the account's metadata."""
        known = await repository.agency_of_account(self.session, account_id)
        if known is not None:
            return known
        found = hint or await self.stripe.agency_of_account(account_id)
        if found is not None:
            await self.remember_account(account_id, found)
        return found

    # --- invoices --------------------------------------------------------------------

    async def apply_invoice(
        self, agency_hint: str | None, event_type: str, snapshot: StripeInvoiceSnapshot
    ) -> None:
        await self.apply_invoices([(agency_hint, event_type, snapshot)])

    async def apply_invoices(
        self, events: Sequence[tuple[str | None, str, StripeInvoiceSnapshot]]
    ) -> None:
        """Invoice events (agency named by the event, type, snapshot) in their order: their
        invoices' facts read and locked together, each event applied to them, written out
        together, and each subscription met registered with what its first invoice told."""
        told = [event for event in events if event[2].stripe_account_id is not None]
        # (the platform's own invoices, SaaS fees, are not client revenue)
        invoices = await repository.invoices_locked(self.session, {s.invoice_id for *_, s in told})
        subscriptions: dict[str, tuple[str, str | None]] = {}
        for agency_hint, event_type, snapshot in told:
            facts = invoices[snapshot.invoice_id]
            await self._apply_invoice_event(facts, agency_hint, event_type, snapshot)
            if facts.subscription_id and facts.agency_id:
                subscriptions.setdefault(
                    facts.subscription_id, (facts.agency_id, facts.workspace_id)
                )
        await self.session.flush()
        await repository.register_subscriptions(self.session, subscriptions)

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
        known = await repository.invoice(self.session, invoice_id)
        if known is not None and known.agency_id is not None:
            return known
        facts = await repository.invoice(self.session, invoice_id, for_update=True)
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
            await self.session.flush()
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
            await self.session.flush()
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
        health = await repository.ensure_subscription(
            self.session,
            snapshot.subscription_id,
            agency,
            snapshot.metadata.get("workspace_id"),
        )
        health.workspace_id = health.workspace_id or snapshot.metadata.get("workspace_id")
        if subscription_status_applies(health, snapshot):
            health.status = snapshot.status
            health.status_seen_at = snapshot.stripe_created
        await self.session.flush()

    # --- what the owner reads --------------------------------------------------------

    async def summary_json(
        self,
        agency_id: str,
        start: date,
        end: date,
        currency: str,
        page: WorkspacePage = FIRST_PAGE,
    ) -> str:
        """The summary (the shape of ``Summary``) as JSON text, built where the rollups are:
        an owner may have 10,000 workspaces, and building as many objects per request in
        Python is what its latency was made of."""
        return await repository.summary_json(self.session, agency_id, currency, start, end, page)

    async def charging_health(self, agency_id: str) -> list[SubscriptionCharging]:
        rows = await repository.charging_health(self.session, agency_id)
        return [
            SubscriptionCharging(
                subscription_id=row.subscription_id,
                workspace_id=row.workspace_id,
                status=row.status,
                last_paid_at=from_unix(row.last_paid_at) if row.last_paid_at else None,
                failing_since=from_unix(row.failing_since) if row.failing_since else None,
            )
            for row in rows
        ]
