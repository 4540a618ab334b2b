"""The invoicing rules behind the API: one-off invoices ("Charge for project"), the agency's
view of a workspace's invoices and the client portal.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.invoicing_invoices import InvoiceSnapshot
from billing_kit.errors import NotFoundError
from billing_kit.outbox import Outbox
from invoicing import agencies, repository
from invoicing.mirror import Mirror, invoice_snapshot
from invoicing.models import Invoice, Subscription
from invoicing.rules import application_fee_cents
from invoicing.schemas import OneOffInvoiceCreate
from invoicing.stripe_facts import invoice_snapshot_from_stripe
from invoicing.stripe_gateway import InvoicingStripe, OneOffInvoice

PORTAL_SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due", "unpaid")
"""Subscriptions the portal shows as active: still billing, paid up or not."""


@dataclass(frozen=True)
class WorkspaceCustomer:
    """The workspace's one Stripe customer, on the agency's connected account."""

    stripe_account_id: str
    stripe_customer_id: str
    billing_email: str | None


class Customers(Protocol):
    """Where the workspace's customer comes from (its owner creates it on first need)."""

    async def customer_for(self, agency_id: str, workspace_id: str) -> WorkspaceCustomer: ...


@dataclass
class Invoicing:
    session: AsyncSession
    outbox: Outbox
    stripe: InvoicingStripe
    customers: Customers

    def _mirror(self) -> Mirror:
        return Mirror(self.session, self.outbox, self.stripe)

    async def charge_for_project(
        self, agency_id: str, workspace_id: str, command: OneOffInvoiceCreate
    ) -> InvoiceSnapshot:
        """Issue a one-off invoice on the agency's account: finalized and sent, so Stripe
        emails the pay link; the platform's fee is 0.5 % of the subtotal."""
        account_id = await agencies.billing_account(self.session, agency_id)
        customer = await self.customers.customer_for(agency_id, workspace_id)
        command_id = str(uuid.uuid4())
        fee = application_fee_cents(command.amount_cents)
        issued = await self.stripe.issue_one_off(
            OneOffInvoice(
                command_id=command_id,
                account_id=account_id,
                customer_id=customer.stripe_customer_id,
                description=command.description,
                amount_cents=command.amount_cents,
                currency="usd",
                application_fee_cents=fee,
                metadata={
                    "agency_id": agency_id,
                    "workspace_id": workspace_id,
                    "one_off_id": command_id,
                    "application_fee_cents": str(fee),
                },
            )
        )
        finalized_at = (issued.get("status_transitions") or {}).get("finalized_at")
        snapshot = invoice_snapshot_from_stripe(
            issued, account=account_id, seen_at=int(finalized_at or issued["created"])
        )
        row = await self._mirror().apply_invoice(
            snapshot, agency_id=agency_id, workspace_id=workspace_id
        )
        assert row is not None
        return await self._mirror().snapshot(row)

    async def workspace_invoices(
        self, agency_id: str, workspace_id: str, *, outstanding: bool = False
    ) -> list[InvoiceSnapshot]:
        await self._refuse_another_agencys(agency_id, workspace_id)
        rows = await repository.workspace_invoices(
            self.session, agency_id, workspace_id, outstanding=outstanding
        )
        return await self._snapshots(rows)

    async def _refuse_another_agencys(self, agency_id: str, workspace_id: str) -> None:
        """Another agency's workspace reads as no workspace at all, never as an empty one."""
        if await repository.workspace_held_by_another_agency(self.session, agency_id, workspace_id):
            raise NotFoundError("No such workspace.")

    async def _snapshots(self, rows: Sequence[Invoice]) -> list[InvoiceSnapshot]:
        payments = await repository.payments_of(
            self.session, [row.stripe_invoice_id for row in rows]
        )
        subscriptions: dict[str, Subscription | None] = {}
        for row in rows:
            sub_id = row.stripe_subscription_id
            if sub_id and sub_id not in subscriptions:
                subscriptions[sub_id] = await repository.subscription(self.session, sub_id)
        return [
            invoice_snapshot(
                row,
                [p for p in payments if p.stripe_invoice_id == row.stripe_invoice_id],
                subscriptions.get(row.stripe_subscription_id or ""),
            )
            for row in rows
        ]

    async def active_subscriptions(
        self, agency_id: str, workspace_id: str
    ) -> list[tuple[Subscription, str | None]]:
        """Each subscription still billing, with its product's name."""
        await self._refuse_another_agencys(agency_id, workspace_id)
        found = await repository.workspace_subscriptions(
            self.session, agency_id, workspace_id, PORTAL_SUBSCRIPTION_STATUSES
        )
        names = await repository.product_names(self.session, found)
        return [(sub, names.get(sub.stripe_price_id or "")) for sub in found]

    async def payment_methods_url(self, agency_id: str, workspace_id: str, return_url: str) -> str:
        """A Stripe customer-portal session where the client adds or updates a card."""
        known = await repository.workspace_customer(self.session, agency_id, workspace_id)
        if known is not None:
            account_id, customer_id = known
        else:
            customer = await self.customers.customer_for(agency_id, workspace_id)
            account_id, customer_id = customer.stripe_account_id, customer.stripe_customer_id
        return await self.stripe.customer_portal_url(account_id, customer_id, return_url)
