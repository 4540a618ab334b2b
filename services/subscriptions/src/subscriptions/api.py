"""subscriptions routes: parse, authorize, call the rules, shape the response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from billing_kit.auth import AgencyStaff
from billing_kit.db import DbSession
from billing_kit.errors import (
    AgencySuspendedCannotBillError,
    ConnectRequiredError,
    ForbiddenError,
    NotFoundError,
    StripeFailedError,
    documented,
)
from billing_kit.idempotency import IdempotentRoute
from subscriptions.errors import ProductArchivedError
from subscriptions.models import Subscription, Workspace
from subscriptions.schemas import (
    BillingContactOut,
    ClientMemberOut,
    LatestInvoice,
    MigrationAccepted,
    ProductMigrate,
    SubscriptionList,
    SubscriptionMigrate,
    SubscriptionOut,
    SubscriptionStart,
    WorkspaceOut,
    WorkspacePut,
)
from subscriptions.service import Subscriptions

router = APIRouter(prefix="/v1", route_class=IdempotentRoute, tags=["subscriptions"])

WorkspaceId = Annotated[str, Path(min_length=1, max_length=100)]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=40)]
ProductPath = Annotated[str, Path(min_length=1, max_length=40)]


def _subscriptions(request: Request, session: DbSession) -> Subscriptions:
    return Subscriptions.build(request.app.state.runtime, session)


BILLS_A_PRODUCT = documented(
    ForbiddenError,
    NotFoundError,
    ConnectRequiredError,
    AgencySuspendedCannotBillError,
    ProductArchivedError,
    StripeFailedError,
)
"""What a route that bills a product (a start, a migration) may answer besides success."""

SubscriptionsService = Annotated[Subscriptions, Depends(_subscriptions)]


def _workspace_out(workspace: Workspace, stripe_customer_id: str | None) -> WorkspaceOut:
    contact = (
        BillingContactOut(
            email=workspace.billing_contact_email, name=workspace.billing_contact_name
        )
        if workspace.billing_contact_email
        else None
    )
    return WorkspaceOut(
        id=workspace.id,
        name=workspace.name,
        billing_contact=contact,
        client_members=[ClientMemberOut.model_validate(m) for m in workspace.client_members],
        billing_email=workspace.billing_email,
        default_days_until_due=workspace.default_days_until_due,
        stripe_customer_id=stripe_customer_id,
    )


async def _subscriptions_out(
    subscriptions: Subscriptions, found: Sequence[Subscription]
) -> list[SubscriptionOut]:
    names = await subscriptions.product_names([s.product_id for s in found])
    return [_subscription_out(s, names.get(s.product_id)) for s in found]


def _subscription_out(subscription: Subscription, product_name: str | None) -> SubscriptionOut:
    return SubscriptionOut.model_validate(
        {
            **subscription.model_dump(),
            "product_name": product_name,
            "application_fee_percent": float(subscription.application_fee_percent),
            "latest_invoice": LatestInvoice(
                id=subscription.latest_invoice_id,
                status=subscription.latest_invoice_status,
                hosted_invoice_url=subscription.hosted_invoice_url,
            ),
        }
    )


@router.put(
    "/workspaces/{workspace_id}",
    response_model=WorkspaceOut,
    responses=documented(ForbiddenError, NotFoundError, StripeFailedError),
)
async def put_workspace(
    workspace_id: WorkspaceId,
    body: WorkspacePut,
    principal: AgencyStaff,
    subscriptions: SubscriptionsService,
) -> WorkspaceOut:
    workspaces = subscriptions.workspaces
    workspace = await workspaces.put_workspace(principal.require_agency(), workspace_id, body)
    return _workspace_out(workspace, await workspaces.stripe_customer_id(workspace_id))


@router.post(
    "/workspaces/{workspace_id}/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    responses=BILLS_A_PRODUCT,
)
async def start_subscription(
    workspace_id: WorkspaceId,
    body: SubscriptionStart,
    principal: AgencyStaff,
    subscriptions: SubscriptionsService,
) -> SubscriptionOut:
    subscription = await subscriptions.start_subscription(
        principal.require_agency(), workspace_id, body.product_id, body.days_until_due
    )
    return (await _subscriptions_out(subscriptions, [subscription]))[0]


@router.get(
    "/workspaces/{workspace_id}/subscriptions",
    response_model=SubscriptionList,
    responses=documented(ForbiddenError, NotFoundError),
)
async def list_subscriptions(
    workspace_id: WorkspaceId, principal: AgencyStaff, subscriptions: SubscriptionsService
) -> SubscriptionList:
    found = await subscriptions.list_subscriptions(principal.require_agency(), workspace_id)
    return SubscriptionList(data=await _subscriptions_out(subscriptions, found))


@router.post(
    "/workspaces/{workspace_id}/subscriptions/{subscription_id}/cancel",
    response_model=SubscriptionOut,
    responses=documented(ForbiddenError, NotFoundError, StripeFailedError),
)
async def cancel_subscription(
    workspace_id: WorkspaceId,
    subscription_id: SubscriptionId,
    principal: AgencyStaff,
    subscriptions: SubscriptionsService,
) -> SubscriptionOut:
    subscription = await subscriptions.cancel_subscription(
        principal.require_agency(), workspace_id, subscription_id
    )
    return (await _subscriptions_out(subscriptions, [subscription]))[0]


@router.post(
    "/workspaces/{workspace_id}/subscriptions/{subscription_id}/migrate",
    response_model=SubscriptionOut,
    responses=BILLS_A_PRODUCT,
)
async def migrate_subscription(
    workspace_id: WorkspaceId,
    subscription_id: SubscriptionId,
    body: SubscriptionMigrate,
    principal: AgencyStaff,
    subscriptions: SubscriptionsService,
) -> SubscriptionOut:
    """Move the subscription to another product of the agency: from its next renewal
    without proration (``next_renewal``, the default; ``scheduled_product_id`` shows the
    change until then), or at once with Stripe's proration on the next invoice (``now``).
    Its invoices so far stay as billed; the platform's fee stays 0.5 %."""
    subscription = await subscriptions.migrations.migrate_subscription(
        principal.require_agency(), workspace_id, subscription_id, body.product_id, body.when
    )
    return (await _subscriptions_out(subscriptions, [subscription]))[0]


@router.post(
    "/products/{product_id}/migrate-subscriptions",
    status_code=202,
    response_model=MigrationAccepted,
    responses=documented(
        ForbiddenError,
        NotFoundError,
        ConnectRequiredError,
        AgencySuspendedCannotBillError,
        ProductArchivedError,
    ),
)
async def migrate_product_subscriptions(
    product_id: ProductPath,
    body: ProductMigrate,
    principal: AgencyStaff,
    subscriptions: SubscriptionsService,
) -> MigrationAccepted:
    """Move every live subscription on the product to ``to_product_id`` ("move everyone off
    the old price"): each move is recorded now and made right after the answer."""
    moving = await subscriptions.migrations.migrate_product(
        principal.require_agency(), product_id, body.to_product_id, body.when
    )
    subscriptions.work_soon(moving)
    return MigrationAccepted(subscriptions=len(moving))
