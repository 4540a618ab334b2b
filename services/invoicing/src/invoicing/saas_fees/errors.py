"""Errors of the SaaS fees beyond the kit's shared ones."""

from __future__ import annotations

from billing_kit.errors import BillingError


class CollectionNotOpenError(BillingError):
    status_code = 409
    code = "invoice_not_open"
    default_message = "This invoice is not open: there is nothing to retry."
