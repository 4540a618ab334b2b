"""The invoicing rules behind the API: one-off invoices ("Charge for project"), the agency's
view of a workspace's invoices and the client portal.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction. The one
exception is a command's pending record, committed on its own before Stripe is called
(``billing_kit.pending_commands``), so a crash cannot lose what Stripe made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.invoicing_invoices import InvoiceSnapshot
from billing_kit.errors import NotFoundError, StripeFailedError
from billing_kit.outbox import Publisher
from billing_kit.pending_commands import Commands, PendingCommand, PendingCommands
from billing_kit.runtime import Runtime
from invoicing import replicas
from invoicing.models import Invoice, Product, Subscription, pending_commands
from invoicing.repository import InvoicingRepository
from invoicing.rules import application_fee_cents
from invoicing.schemas import OneOffInvoiceCreate
from invoicing.service.mirror import Mirror, invoice_snapshot
from invoicing.service.ports import Repository, StripeGateway
from invoicing.stripe_gateway import InvoicingStripe, OneOffInvoice, invoice_snapshot_from_stripe

PORTAL_SUBSCRIPTION_STATUSES = ("incomplete", "active", "trialing", "past_due", "unpaid")
"""Every subscription not ended: awaiting its first payment, active, past due or unpaid."""
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


ONE_OFF_INVOICE = "one_off_invoice"
"""Kind of the pending record of a "Charge for project"."""


def one_off_invoice(pending: PendingCommand) -> OneOffInvoice:
    """The Stripe objects of a one-off invoice, keyed by its pending record's id."""
    request = pending.request
    fee = application_fee_cents(request["amount_cents"])
    return OneOffInvoice(
        command_id=pending.id,
        account_id=request["account_id"],
        customer_id=request["customer_id"],
        description=request["description"],
        amount_cents=request["amount_cents"],
        currency="usd",
        application_fee_cents=fee,
        metadata={
            "agency_id": request["agency_id"],
            "workspace_id": request["workspace_id"],
            "one_off_id": pending.id,
            "application_fee_cents": str(fee),
        },
    )


async def withdraw_one_off(
    stripe: StripeGateway, commands: Commands, pending: PendingCommand
) -> None:
    """Remove what a one-off invoice made on Stripe and mark its command failed; when Stripe
    cannot be reached for that, it is left ``undoing`` for the sweeper."""
    request = pending.request
    undo = stripe.withdraw_one_off(request["account_id"], request["customer_id"], pending.id)
    failed = await commands.withdraw(pending.id, undo)
    if failed is not None:
        raise failed


def invoicing_commands(runtime: Runtime) -> PendingCommands:
    return runtime.pending_commands(pending_commands)


@dataclass
class Invoicing:
    session: AsyncSession
    """The edge's transaction: the outbox rows and the pending records join it."""
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway
    customers: Customers
    commands: Commands

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession, customers: Customers) -> Invoicing:
        """The service for one transaction of the edge (a request, a swept command), asking
        ``customers`` for a workspace's customer."""
        return cls(
            session,
            InvoicingRepository(session),
            runtime.outbox,
            InvoicingStripe(runtime.stripe),
            customers,
            invoicing_commands(runtime),
        )

    def _mirror(self) -> Mirror:
        return Mirror(self.session, self.repository, self.outbox, self.stripe)

    async def charge_for_project(
        self, agency_id: str, workspace_id: str, command: OneOffInvoiceCreate
    ) -> InvoiceSnapshot:
        """Issue a one-off invoice on the agency's account: finalized and sent, so Stripe
        emails the pay link; the platform's fee is 0.5 % of the subtotal. Its pending record
        is committed before Stripe is called (the same ``Idempotency-Key`` finishes the same
        record); if Stripe refuses a step, what was made is removed and nothing is kept."""
        account_id = replicas.billing_account(await self.repository.agency(agency_id))
        customer = await self.customers.customer_for(agency_id, workspace_id)
        pending = await self.commands.open(
            self.session,
            ONE_OFF_INVOICE,
            {
                "agency_id": agency_id,
                "workspace_id": workspace_id,
                "account_id": account_id,
                "customer_id": customer.stripe_customer_id,
                "description": command.description,
                "amount_cents": command.amount_cents,
            },
            agency_id=agency_id,
        )
        if pending.status == "done" and pending.result is not None:
            issued = await self.stripe.invoice(account_id, pending.result["stripe_invoice_id"])
            if issued is not None:
                return await self._mirror_issued(pending, issued)
        try:
            issued = await self.stripe.issue_one_off(one_off_invoice(pending))
        except StripeFailedError:
            await self.withdraw_one_off(pending)
            raise
        return await self.record_one_off(pending, issued)

    async def record_one_off(
        self, pending: PendingCommand, issued: dict[str, Any]
    ) -> InvoiceSnapshot:
        """Mirror the issued invoice and mark its command done, in this transaction."""
        snapshot = await self._mirror_issued(pending, issued)
        await self.commands.finish(
            self.session, pending, {"stripe_invoice_id": snapshot.stripe_invoice_id}
        )
        return snapshot

    async def withdraw_one_off(self, pending: PendingCommand) -> None:
        await withdraw_one_off(self.stripe, self.commands, pending)

    async def _mirror_issued(
        self, pending: PendingCommand, issued: dict[str, Any]
    ) -> InvoiceSnapshot:
        request = pending.request
        finalized_at = (issued.get("status_transitions") or {}).get("finalized_at")
        snapshot = invoice_snapshot_from_stripe(
            issued, account=request["account_id"], seen_at=int(finalized_at or issued["created"])
        )
        row = await self._mirror().apply_invoice(
            snapshot, agency_id=request["agency_id"], workspace_id=request["workspace_id"]
        )
        assert row is not None
        return await self._mirror().snapshot(row)

    async def workspace_invoices(
        self, agency_id: str, workspace_id: str, *, outstanding: bool = False
    ) -> list[InvoiceSnapshot]:
        await self._refuse_another_agencys(agency_id, workspace_id)
        rows = await self.repository.workspace_invoices(
            agency_id, workspace_id, outstanding=outstanding
        )
        return await self._snapshots(rows)

    async def _refuse_another_agencys(self, agency_id: str, workspace_id: str) -> None:
        """Another agency's workspace reads as no workspace at all, never as an empty one."""
        if await self.repository.workspace_held_by_another_agency(agency_id, workspace_id):
            raise NotFoundError("No such workspace.")

    async def _snapshots(self, rows: Sequence[Invoice]) -> list[InvoiceSnapshot]:
        payments = await self.repository.payments_of([row.stripe_invoice_id for row in rows])
        subscriptions: dict[str, Subscription | None] = {}
        for row in rows:
            sub_id = row.stripe_subscription_id
            if sub_id and sub_id not in subscriptions:
                subscriptions[sub_id] = await self.repository.subscription(sub_id)
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
    ) -> list[tuple[Subscription, Product | None]]:
        """Each subscription not ended, with the product it bills now."""
        await self._refuse_another_agencys(agency_id, workspace_id)
        found = await self.repository.workspace_subscriptions(
            agency_id, workspace_id, PORTAL_SUBSCRIPTION_STATUSES
        )
        products = await self.repository.products_billed(found)
        return [(sub, products.get(sub.stripe_price_id or "")) for sub in found]

    async def payment_methods_url(self, agency_id: str, workspace_id: str, return_url: str) -> str:
        """A Stripe customer-portal session where the client adds or updates a card."""
        known = await self.repository.workspace_customer(agency_id, workspace_id)
        if known is not None:
            account_id, customer_id = known
        else:
            customer = await self.customers.customer_for(agency_id, workspace_id)
            account_id, customer_id = customer.stripe_account_id, customer.stripe_customer_id
        return await self.stripe.customer_portal_url(account_id, customer_id, return_url)
