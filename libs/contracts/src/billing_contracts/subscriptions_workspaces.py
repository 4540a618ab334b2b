"""``subscriptions.workspaces.v1`` — client workspaces as their agency registered them.

Published by subscriptions; key = workspace id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class BillingContact(Payload):
    email: str
    name: str | None = None


class ClientMember(Payload):
    user_id: str
    email: str
    name: str | None = None


class WorkspaceSnapshot(Payload):
    """The workspace after the change."""

    workspace_id: str
    name: str
    billing_contact: BillingContact | None = None
    client_members: list[ClientMember] = Field(default_factory=list)
    """In the order they joined the workspace."""
    billing_email: str | None = None
    """Who Stripe bills: the billing contact, else the first client member."""
    revision: int = 1
    """Grows by one with every change, so a replica can ignore stale snapshots."""


class _WorkspaceEvent(Event):
    payload: WorkspaceSnapshot
    aggregate_field: ClassVar[str] = "workspace_id"


class WorkspaceRegistered(_WorkspaceEvent):
    """An agency registered a client workspace for billing."""

    type: Literal["workspace.registered"] = "workspace.registered"


class WorkspaceUpdated(_WorkspaceEvent):
    """Name, billing contact or client members changed."""

    type: Literal["workspace.updated"] = "workspace.updated"


WORKSPACES = Topic(
    name="subscriptions.workspaces.v1",
    description="Client workspaces of every agency, with their billing recipient. "
    "Key: workspace id.",
    events=(WorkspaceRegistered, WorkspaceUpdated),
)
