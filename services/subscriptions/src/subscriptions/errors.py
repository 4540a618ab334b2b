"""Errors the subscriptions rules raise beyond the kit's shared ones."""

from __future__ import annotations

from billing_kit.errors import BillingError, ValidationFailedError


class ProductArchivedError(BillingError):
    status_code = 409
    code = "product_archived"
    default_message = "This product is archived: no subscription can start on it or move to it."


class OneTimeProductError(ValidationFailedError):
    default_message = (
        "This product is one-time, and subscriptions need a monthly or yearly product: send it "
        "as a one-off invoice instead (Charge for project)."
    )


class SubscriptionNotRecordedError(Exception):
    """A Stripe event names a subscription we created whose row is not committed yet (the
    start request is still finishing): worth retrying shortly."""
