"""Client workspaces: registered and updated by their agency (owner or admin), with the
billing recipient rule — the billing contact, else the first client member to have joined.
A change of recipient is carried to the workspace's Stripe customer in the same request.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from billing_contracts import subscriptions_workspaces as contract
from billing_kit.outbox import Publisher
from subscriptions.models import Workspace
from subscriptions.schemas import WorkspacePut
from subscriptions.service.customers import Customers
from subscriptions.service.ports import Repository


def _members(before: list[dict[str, Any]], wanted: WorkspacePut) -> list[dict[str, Any]]:
    """Members who stay keep when they joined; newcomers join now, in the order given."""
    joined = {member["user_id"]: member["joined_at"] for member in before}
    now = datetime.now(UTC).isoformat()
    members = [
        {
            "user_id": member.user_id,
            "email": member.email,
            "name": member.name,
            "joined_at": joined.get(member.user_id, now),
        }
        for member in wanted.client_members
    ]
    order = {member["user_id"]: index for index, member in enumerate(before)}
    return sorted(members, key=lambda m: (m["joined_at"], order.get(m["user_id"], len(order))))


def workspace_snapshot(workspace: Workspace) -> contract.WorkspaceSnapshot:
    contact = (
        contract.BillingContact(
            email=workspace.billing_contact_email, name=workspace.billing_contact_name
        )
        if workspace.billing_contact_email
        else None
    )
    return contract.WorkspaceSnapshot(
        workspace_id=workspace.id,
        name=workspace.name,
        billing_contact=contact,
        client_members=[
            contract.ClientMember(user_id=m["user_id"], email=m["email"], name=m["name"])
            for m in workspace.client_members
        ],
        billing_email=workspace.billing_email,
        revision=workspace.revision,
    )


@dataclass
class Workspaces:
    repository: Repository
    outbox: Publisher
    customers: Customers

    async def put_workspace(
        self, agency_id: str, workspace_id: str, wanted: WorkspacePut
    ) -> Workspace:
        """Register the workspace, or bring it to ``wanted``; another agency's is not found."""
        registered = await self.repository.register_workspace(workspace_id, agency_id, wanted.name)
        workspace = await self.customers.locked_workspace(agency_id, workspace_id)
        contact = wanted.billing_contact
        values = {
            "name": wanted.name,
            "billing_contact_email": contact.email if contact else None,
            "billing_contact_name": contact.name if contact else None,
            "client_members": _members(workspace.client_members, wanted),
            "default_days_until_due": wanted.default_days_until_due,
        }
        if not registered and all(getattr(workspace, k) == v for k, v in values.items()):
            return workspace
        recipient = workspace.billing_email
        for key, value in values.items():
            setattr(workspace, key, value)
        workspace.revision += 1
        await self.repository.flush()
        if workspace.billing_email != recipient:
            await self.customers.follow_recipient(workspace)
        event_type = contract.WorkspaceRegistered if registered else contract.WorkspaceUpdated
        await self.outbox.add(
            self.repository.session,
            contract.WORKSPACES,
            event_type(
                agency_id=agency_id,
                workspace_id=workspace_id,
                payload=workspace_snapshot(workspace),
            ),
        )
        return workspace

    async def stripe_customer_id(self, workspace_id: str) -> str | None:
        linked = await self.repository.billing_customers(workspace_id)
        return linked[0].stripe_customer_id if linked else None
