"""Whether an agency may start billing its clients.

Every service that starts billing (subscriptions, one-off invoices) keeps a replica of the
agency's billing profile from catalog's ``catalog.agencies.v1`` events and asks this one
question of it, so the answer and its errors are the same everywhere. Suspension refuses only
new billing: what already charges keeps charging.
"""

from __future__ import annotations

from billing_kit.errors import AgencySuspendedCannotBillError, ConnectRequiredError


def ensure_agency_may_bill(*, charges_enabled: bool, suspended: bool) -> None:
    """Raise ``ConnectRequiredError`` until Connect onboarding has enabled charges, then
    ``AgencySuspendedCannotBillError`` while the platform has the agency suspended.

    An agency the service has not heard of yet has not finished onboarding: pass
    ``charges_enabled=False``.
    """
    if not charges_enabled:
        raise ConnectRequiredError()
    if suspended:
        raise AgencySuspendedCannotBillError()
