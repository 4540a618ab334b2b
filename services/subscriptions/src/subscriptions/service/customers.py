"""The one Stripe customer of each client workspace (per connected account), owned here.

Subscriptions and the customer requests of other services (one-off invoices) take the same
path, ``ensure_customer``: it locks the workspace row first, so two first needs at the same
moment queue up and the second finds the customer the first made. The Stripe create carries
an idempotency key made of agency and workspace, so even a retry after a lost answer cannot
make a second customer; its pending record (one per workspace and account) is committed
first, so a customer Stripe made before a crash is recorded by the sweeper.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing_contracts import subscriptions_customers as contract
from billing_kit.billing_gate import ensure_agency_may_bill
from billing_kit.errors import NotFoundError, StripeFailedError
from billing_kit.outbox import Publisher
from billing_kit.pending_commands import Commands, PendingCommand, command_id_of
from subscriptions.models import BillingCustomer, Workspace
from subscriptions.service.ports import Repository, StripeGateway

CREATE_CUSTOMER = "create_customer"
"""Kind of the pending record of a workspace's customer (one per workspace and account)."""


@dataclass
class Customers:
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway
    commands: Commands | None = None

    def _commands(self) -> Commands:
        assert self.commands is not None, "customers are made by a service built with commands"
        return self.commands

    async def locked_workspace(self, agency_id: str, workspace_id: str) -> Workspace:
        """The agency's workspace, locked for this transaction; another agency's is not found."""
        workspace = await self.repository.workspace(workspace_id, for_update=True)
        if workspace is None or workspace.agency_id != agency_id:
            raise NotFoundError("No such workspace.")
        return workspace

    async def billing_account(self, agency_id: str) -> str:
        """The agency's connected account, once it may bill (``connect_required`` before
        onboarding, then ``agency_suspended`` while suspended)."""
        agency = await self.repository.agency(agency_id)
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
        customer = await self.repository.billing_customer(workspace_id, account_id)
        if customer is not None:
            return workspace, customer
        commands = self._commands()
        request = {
            "workspace_id": workspace_id,
            "account_id": account_id,
            "name": workspace.name,
            "email": workspace.billing_email,
        }
        pending = await commands.open(
            self.repository.session,
            CREATE_CUSTOMER,
            request,
            agency_id=agency_id,
            command_id=command_id_of("customer", agency_id, workspace_id, account_id),
        )
        try:
            return workspace, await self.record_customer(pending)
        except StripeFailedError:
            await commands.settle(pending.id, "failed")  # Stripe made nothing
            raise

    async def record_customer(self, pending: PendingCommand) -> BillingCustomer:
        """The workspace's Stripe customer (again, under its agency-and-workspace key), its
        row and ``customer.linked``, with the record marked done, in this transaction; the
        row another transaction recorded meanwhile is kept."""
        request, agency_id = pending.request, str(pending.agency_id)
        workspace_id, account_id = request["workspace_id"], request["account_id"]
        stripe_customer_id = await self.stripe.create_customer(
            account_id=account_id,
            agency_id=agency_id,
            workspace_id=workspace_id,
            name=request["name"],
            email=request["email"],
        )
        session = self.repository.session
        await self._commands().finish(session, pending, {"stripe_customer_id": stripe_customer_id})
        known = await self.repository.billing_customer(workspace_id, account_id)
        if known is not None:
            return known
        customer = BillingCustomer(
            workspace_id=workspace_id,
            stripe_account_id=account_id,
            agency_id=agency_id,
            stripe_customer_id=stripe_customer_id,
            email=request["email"],
        )
        self.repository.add(customer)
        await self.repository.flush()
        await self.outbox.add(
            session,
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
        return customer

    async def follow_recipient(self, workspace: Workspace) -> None:
        """Point the workspace's Stripe customers at its current billing recipient."""
        email = workspace.billing_email
        for customer in await self.repository.billing_customers(workspace.id):
            if customer.email != email:
                await self.stripe.update_customer_email(
                    customer.stripe_account_id, customer.stripe_customer_id, email
                )
                customer.email = email
        await self.repository.flush()
