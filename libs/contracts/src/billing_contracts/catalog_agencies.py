"""``catalog.agencies.v1`` — whether an agency may bill: Connect status and suspension.

Published by catalog; key = agency id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic

ConnectStatus = Literal["not_started", "pending", "enabled", "disconnected"]


class AgencyBillingProfile(Payload):
    """The agency's billing profile after the change."""

    agency_id: str
    stripe_account_id: str | None
    connect_status: ConnectStatus
    charges_enabled: bool
    suspended: bool
    suspension_reason: str | None = None


class _AgencyEvent(Event):
    payload: AgencyBillingProfile
    aggregate_field: ClassVar[str] = "agency_id"


class AgencyConnectStatusChanged(_AgencyEvent):
    """The agency's Connect account was created, or its ability to take charges changed."""

    type: Literal["agency.connect_status_changed"] = "agency.connect_status_changed"


class AgencySuspended(_AgencyEvent):
    """A platform operator suspended the agency: no new subscriptions or invoices."""

    type: Literal["agency.suspended"] = "agency.suspended"


class AgencyUnsuspended(_AgencyEvent):
    """The suspension was lifted: billing actions unlock immediately."""

    type: Literal["agency.unsuspended"] = "agency.unsuspended"


AGENCIES = Topic(
    name="catalog.agencies.v1",
    description="Agency billing profiles: Connect status and suspension. Key: agency id.",
    events=(AgencyConnectStatusChanged, AgencySuspended, AgencyUnsuspended),
)
