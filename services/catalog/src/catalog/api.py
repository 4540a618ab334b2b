"""catalog routes: parse, authorize, call the rules, shape the response."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from billing_kit.auth import AgencyStaff, Operator, Owner
from billing_kit.db import DbSession
from billing_kit.errors import (
    ConnectRequiredError,
    ForbiddenError,
    NotFoundError,
    StripeFailedError,
    documented,
)
from billing_kit.idempotency import IdempotentRoute
from catalog.errors import PriceImmutableError
from catalog.models import Product
from catalog.schemas import (
    ConnectOut,
    OnboardingLink,
    OnboardingRequest,
    ProductCreate,
    ProductList,
    ProductOut,
    ProductPatch,
    SuspensionOut,
    SuspensionRequest,
)
from catalog.service import Catalog, connect_status

router = APIRouter(prefix="/v1", route_class=IdempotentRoute, tags=["catalog"])


def _catalog(request: Request, session: DbSession) -> Catalog:
    return Catalog.build(request.app.state.runtime, session)


CatalogService = Annotated[Catalog, Depends(_catalog)]


def _product_out(product: Product) -> ProductOut:
    return ProductOut.model_validate(product, from_attributes=True)


@router.get("/connect", response_model=ConnectOut, responses=documented(ForbiddenError))
async def get_connect(principal: AgencyStaff, catalog: CatalogService) -> ConnectOut:
    agency = await catalog.connect_profile(principal.require_agency())
    return ConnectOut(
        account_id=agency.stripe_account_id if agency else None,
        charges_enabled=bool(agency and agency.charges_enabled),
        details_submitted=bool(agency and agency.details_submitted),
        status=connect_status(agency),
    )


@router.post(
    "/connect/onboarding",
    response_model=OnboardingLink,
    responses=documented(ForbiddenError, StripeFailedError),
)
async def start_onboarding(
    body: OnboardingRequest, principal: Owner, catalog: CatalogService
) -> OnboardingLink:
    account_id, url, expires_at = await catalog.start_onboarding(
        principal.require_agency(), return_url=body.return_url, refresh_url=body.refresh_url
    )
    return OnboardingLink(account_id=account_id, url=url, expires_at=expires_at)


@router.post(
    "/products",
    status_code=201,
    response_model=ProductOut,
    responses=documented(ForbiddenError, ConnectRequiredError, StripeFailedError),
)
async def create_product(
    body: ProductCreate, principal: AgencyStaff, catalog: CatalogService
) -> ProductOut:
    return _product_out(await catalog.create_product(principal.require_agency(), body))


@router.get("/products", response_model=ProductList, responses=documented(ForbiddenError))
async def list_products(
    principal: AgencyStaff,
    catalog: CatalogService,
    status: Annotated[Literal["active", "archived", "all"], Query()] = "active",
) -> ProductList:
    found = await catalog.list_products(
        principal.require_agency(), None if status == "all" else status
    )
    return ProductList(data=[_product_out(product) for product in found])


@router.get(
    "/products/{product_id}",
    response_model=ProductOut,
    responses=documented(ForbiddenError, NotFoundError),
)
async def get_product(
    product_id: str, principal: AgencyStaff, catalog: CatalogService
) -> ProductOut:
    return _product_out(await catalog.get_product(principal.require_agency(), product_id))


@router.patch(
    "/products/{product_id}",
    response_model=ProductOut,
    responses=documented(ForbiddenError, NotFoundError, PriceImmutableError, StripeFailedError),
)
async def update_product(
    product_id: str, body: ProductPatch, principal: AgencyStaff, catalog: CatalogService
) -> ProductOut:
    product = await catalog.update_product(principal.require_agency(), product_id, body)
    return _product_out(product)


@router.post(
    "/products/{product_id}/archive",
    response_model=ProductOut,
    responses=documented(ForbiddenError, NotFoundError, StripeFailedError),
)
async def archive_product(
    product_id: str, principal: AgencyStaff, catalog: CatalogService
) -> ProductOut:
    return _product_out(await catalog.archive_product(principal.require_agency(), product_id))


@router.put(
    "/agencies/{agency_id}/suspension",
    response_model=SuspensionOut,
    responses=documented(ForbiddenError),
)
async def set_suspension(
    agency_id: str, body: SuspensionRequest, _: Operator, catalog: CatalogService
) -> SuspensionOut:
    agency = await catalog.set_suspension(agency_id, body.suspended, body.reason)
    return SuspensionOut(
        agency_id=agency.agency_id, suspended=agency.suspended, reason=agency.suspension_reason
    )
