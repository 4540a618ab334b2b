"""The one Stripe customer of each client workspace (per connected account), owned here.

Subscriptions and the customer requests of other services (one-off invoices) take the same
path, ``ensure_customer``: it locks the workspace row first, so two first needs at the same
moment queue up and the second finds the customer the first made. The Stripe create carries
an idempotency key made of agency and workspace, so even a retry after a lost answer cannot
make a second customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import subscriptions_customers as contract
from billing_kit.billing_gate import ensure_agency_may_bill
from billing_kit.errors import NotFoundError
from billing_kit.outbox import Outbox
from subscriptions import repository
from subscriptions.models import BillingCustomer, Workspace
from subscriptions.stripe_gateway import SubscriptionsStripe


@dataclass
class Customers:
    session: AsyncSession
    outbox: Outbox
    stripe: SubscriptionsStripe

    async def locked_workspace(self, agency_id: str, workspace_id: str) -> Workspace:
        """The agency's workspace, locked for this transaction; another agency's is not found."""
        workspace = await repository.workspace(self.session, workspace_id, for_update=True)
        if workspace is None or workspace.agency_id != agency_id:
            raise NotFoundError("No such workspace.")
        return workspace

    async def billing_account(self, agency_id: str) -> str:
        """The agency's connected account, once it may bill (``connect_required`` before
        onboarding, then ``agency_suspended`` while suspended)."""
        agency = await repository.agency(self.session, agency_id)
        account_id = agency.stripe_account_id if agency else None
        ensure_agency_may_bill(
            charges_enabled=bool(agency and agency.charges_enabled and account_id),
            suspended=bool(agency and agency.suspended),
        )
        assert account_id is not None
        return account_id

    async def ensure_customer(
        self, agency_id: str, workspace_id: str
    ) -> tuple[Workspace, BillingCustomer]:
        """The workspace's Stripe customer on the agency's account, made on first need."""
        workspace = await self.locked_workspace(agency_id, workspace_id)
        account_id = await self.billing_account(agency_id)
        customer = await repository.billing_customer(self.session, workspace_id, account_id)
        if customer is not None:
            return workspace, customer
        customer = BillingCustomer(
            workspace_id=workspace_id,
            stripe_account_id=account_id,
            agency_id=agency_id,
            stripe_customer_id=await self.stripe.create_customer(
                account_id=account_id,
                agency_id=agency_id,
                workspace_id=workspace_id,
                name=workspace.name,
                email=workspace.billing_email,
            ),
            email=workspace.billing_email,
        )
        self.session.add(customer)
        await self.session.flush()
        await self.outbox.add(
            self.session,
            contract.CUSTOMERS,
            contract.CustomerLinked(
                agency_id=agency_id,
                workspace_id=workspace_id,
                payload=contract.BillingCustomer(
                    workspace_id=workspace_id,
                    stripe_account_id=account_id,
                    stripe_customer_id=customer.stripe_customer_id,
                    billing_email=customer.email,
                ),
            ),
        )
        return workspace, customer

    async def follow_recipient(self, workspace: Workspace) -> None:
        """Point the workspace's Stripe customers at its current billing recipient."""
        email = workspace.billing_email
        for customer in await repository.billing_customers(self.session, workspace.id):
            if customer.email != email:
                await self.stripe.update_customer_email(
                    customer.stripe_account_id, customer.stripe_customer_id, email
                )
                customer.email = email
        await self.session.flush()
