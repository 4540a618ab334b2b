"""Errors of the SaaS fees' plans beyond the kit's shared ones."""

from __future__ import annotations

from billing_kit.errors import BillingError


class AgencyPlanNotRecordedError(Exception):
    """A Stripe event names an agency plan we created whose row is not committed yet (the
    start request is still finishing): worth retrying shortly."""


class PlanArchivedError(BillingError):
    status_code = 409
    code = "plan_archived"
    default_message = "This plan is archived and cannot be given to an agency."


class AgencyPlanExistsError(BillingError):
    status_code = 409
    code = "agency_plan_exists"
    default_message = "This agency already has a plan."
