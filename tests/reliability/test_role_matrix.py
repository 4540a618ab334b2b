"""Who may call what: every route of every service, as its OpenAPI document lists it, called
by every kind of caller on its own agency's resources and on another agency's. A role the
route does not serve gets 403, a missing or expired token 401, and another agency's
resource 404 (never a 200: no read crosses tenants). A route missing from the table below
fails the test, so a new route comes with its row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import create_product, register_workspace, started, workspace_body

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]


@dataclass(frozen=True)
class Tenant:
    """An onboarded agency with one of each resource the routes name."""

    agency: Agency
    workspace_id: str
    product_id: str  # read, renamed and archived by the matrix
    sellable_product_id: str  # subscribed to by the matrix
    subscription_id: str

    @property
    def path_values(self) -> dict[str, str]:
        return {
            "agency_id": self.agency.agency_id,
            "workspace_id": self.workspace_id,
            "product_id": self.product_id,
            "subscription_id": self.subscription_id,
            "invoice_id": "in_no_such_collection",
            "payout_id": "po_no_such_payout",
        }


Body = Callable[[Tenant], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """``roles`` may call the route; on their own agency's resources it answers ``success``
    (its request body, if any, is in ``BODIES``)."""

    roles: str
    success: int = 200


@dataclass(frozen=True)
class Public:
    """No gateway token: probes, and Stripe's deliveries (signed; tests/webhook_ingest)."""

    why: str


def _product(_: Tenant) -> dict[str, Any]:
    return {"name": "Design retainer", "cadence": "monthly", "amount_cents": 120_000}


def _subscription(tenant: Tenant) -> dict[str, Any]:
    return {"product_id": tenant.sellable_product_id}


URLS = {"return_url": "https://agency.example/billing", "refresh_url": "https://agency.example/r"}
PROBE = Public("probe")
STRIPE = Public("Stripe-Signature, not a token")
OWNER_ADMIN, OWNER, CLIENT, OPERATOR = "owner admin", "owner", "client", "platform_operator"
WORKSPACE = "/v1/workspaces/{workspace_id}"
PORTAL = "/v1/portal/workspaces/{workspace_id}"

# Who may call each route (docs/api.md and each service's README); any other role gets 403.
# fmt: off
MATRIX: dict[str, Route | Public] = {
    "catalog GET /v1/connect":                              Route(OWNER_ADMIN),
    "catalog POST /v1/connect/onboarding":                  Route(OWNER),
    "catalog GET /v1/products":                             Route(OWNER_ADMIN),
    "catalog POST /v1/products":                            Route(OWNER_ADMIN, 201),
    "catalog GET /v1/products/{product_id}":                Route(OWNER_ADMIN),
    "catalog PATCH /v1/products/{product_id}":              Route(OWNER_ADMIN),
    "catalog POST /v1/products/{product_id}/archive":       Route(OWNER_ADMIN),
    "catalog PUT /v1/agencies/{agency_id}/suspension":      Route(OPERATOR),
    f"subscriptions PUT {WORKSPACE}":                       Route(OWNER_ADMIN),
    f"subscriptions POST {WORKSPACE}/subscriptions":        Route(OWNER_ADMIN, 201),
    f"subscriptions GET {WORKSPACE}/subscriptions":         Route(OWNER_ADMIN),
    f"subscriptions POST {WORKSPACE}/subscriptions/{{subscription_id}}/cancel": Route(OWNER_ADMIN),
    # the matrix canceled it just before (routes go in order): an ended one does not move
    f"subscriptions POST {WORKSPACE}/subscriptions/{{subscription_id}}/migrate":
        Route(OWNER_ADMIN, 422),
    "subscriptions POST /v1/products/{product_id}/migrate-subscriptions": Route(OWNER_ADMIN, 202),
    "subscriptions POST /v1/platform/plans":                Route(OPERATOR, 201),
    "subscriptions GET /v1/platform/plans":                 Route(OPERATOR),
    # the operator reaches them: the agency has no plan, and the plan asked for does not exist
    "subscriptions GET /v1/platform/agencies/{agency_id}/plan":  Route(OPERATOR, 404),
    "subscriptions POST /v1/platform/agencies/{agency_id}/plan": Route(OPERATOR, 404),
    f"invoicing POST {WORKSPACE}/invoices":                 Route(OWNER_ADMIN, 201),
    f"invoicing GET {WORKSPACE}/invoices":                  Route(OWNER_ADMIN),
    f"invoicing GET {PORTAL}/billing":                      Route(CLIENT),
    f"invoicing GET {PORTAL}/invoices":                     Route(CLIENT),
    f"invoicing POST {PORTAL}/payment-methods/session":     Route(CLIENT),
    "invoicing GET /v1/platform/collections":               Route(OPERATOR),
    "invoicing POST /v1/platform/collections/{invoice_id}/retry": Route(OPERATOR, 404),
    "invoicing GET /v1/agency/platform-billing":            Route(OWNER),
    "webhook-ingest POST /v1/replay":                       Route(OPERATOR),
    "webhook-ingest POST /stripe/webhooks":                 STRIPE,
    "webhook-ingest POST /stripe/webhooks/connect":         STRIPE,
    "revenue GET /v1/revenue/summary":                      Route(OWNER),
    "revenue GET /v1/revenue/subscriptions":                Route(OWNER),
    "revenue GET /v1/revenue/mrr":                          Route(OWNER),
    "revenue GET /v1/revenue/payouts":                      Route(OWNER),
    # the owner reaches it: the agency has had no payout (tests/e2e/test_revenue.py: others')
    "revenue GET /v1/revenue/payouts/{payout_id}":          Route(OWNER, 404),
    "revenue GET /v1/revenue/dashboard":                    Route(OWNER),
    "revenue GET /v1/platform/overview":                    Route(OPERATOR),
    "revenue GET /v1/platform/back-office":                 Route(OPERATOR),
}
# fmt: on
SERVICES = ("catalog", "subscriptions", "invoicing", "webhook-ingest", "revenue")
for _service in SERVICES:  # every service's probes answer anyone
    MATRIX.update({f"{_service} GET {probe}": PROBE for probe in ("/healthz", "/livez", "/readyz")})

BODIES: dict[str, Body] = {
    "catalog POST /v1/connect/onboarding": lambda _: URLS,
    "catalog POST /v1/products": _product,
    "catalog PATCH /v1/products/{product_id}": lambda _: {"name": "Renamed"},
    "catalog PUT /v1/agencies/{agency_id}/suspension": lambda _: {"suspended": False},
    f"subscriptions PUT {WORKSPACE}": lambda _: workspace_body(),
    f"subscriptions POST {WORKSPACE}/subscriptions": _subscription,
    f"subscriptions POST {WORKSPACE}/subscriptions/{{subscription_id}}/migrate": _subscription,
    "subscriptions POST /v1/products/{product_id}/migrate-subscriptions": lambda tenant: {
        "to_product_id": tenant.sellable_product_id
    },
    "subscriptions POST /v1/platform/plans": lambda _: {
        "name": "Matrix plan",
        "amount_cents": 2_900,
        "interval": "month",
    },
    "subscriptions POST /v1/platform/agencies/{agency_id}/plan": lambda _: {
        "plan_id": "no-such-plan"
    },
    f"invoicing POST {WORKSPACE}/invoices": lambda _: {
        "description": "Sprint",
        "amount_cents": 500,
    },
    f"invoicing POST {PORTAL}/payment-methods/session": lambda _: {
        "return_url": URLS["return_url"]
    },
    "webhook-ingest POST /v1/replay": lambda _: {
        "from": "2020-01-01T00:00:00Z",
        "to": "2020-01-01T00:01:00Z",
    },
}

CALLERS = (
    "owner",
    "admin",
    "member",
    "client",  # a client of the agency whose token names the workspace
    "client_elsewhere",  # a client of the agency whose token names other workspaces
    "platform_operator",
    "no_token",
    "expired",
)
TENANT_RESOURCES = ("{workspace_id}", "{product_id}", "{subscription_id}")


def expected(route: Route, caller: str, *, own: bool) -> int:
    if caller in ("no_token", "expired"):
        return 401
    if caller.removesuffix("_elsewhere") not in route.roles.split():
        return 403
    if caller == "client_elsewhere" or not own:
        return 404
    return route.success


def _headers(tokens: Tokens, caller: str, tenant: Tenant, workspace_id: str) -> dict[str, str]:
    agency_id = tenant.agency.agency_id
    match caller:
        case "no_token":
            return {}
        case "expired":
            return tokens.headers("owner", agency_id, expires_in=-60)
        case "platform_operator":
            return tokens.headers("platform_operator")
        case "client":
            return tokens.headers("client", agency_id, workspace_ids=[workspace_id])
        case "client_elsewhere":
            return tokens.headers("client", agency_id, workspace_ids=["ws-of-someone-else"])
        case role:
            return tokens.headers(role, agency_id)


async def _tenant(clients: dict[str, httpx.AsyncClient], infra: Infra, tokens: Tokens) -> Tenant:
    catalog, subscriptions, invoicing = (
        clients[name] for name in ("catalog", "subscriptions", "invoicing")
    )
    agency = await onboarded_agency(catalog, clients["emulator"], tokens, infra.kafka_bootstrap)
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency)
    sellable_product_id = await create_product(catalog, agency)
    subscription = await started(subscriptions, agency, workspace_id, sellable_product_id)

    async def invoicing_knows_the_workspace() -> bool:
        listed = await invoicing.get(
            f"/v1/workspaces/{workspace_id}/invoices", headers=agency.owner
        )
        return listed.status_code == 200 and bool(listed.json()["data"])

    await eventually(invoicing_knows_the_workspace, within=60)
    return Tenant(agency, workspace_id, product_id, sellable_product_id, subscription["id"])


@pytest.fixture(scope="module")
async def clients(services: dict[str, str], infra: Infra) -> dict[str, httpx.AsyncClient]:
    opened = {name: httpx.AsyncClient(base_url=url, timeout=30) for name, url in services.items()}
    assert infra.stripe_api_base is not None
    opened["emulator"] = httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30)
    return opened


@pytest.fixture(scope="module")
async def tenants(
    clients: dict[str, httpx.AsyncClient], infra: Infra, tokens: Tokens
) -> tuple[Tenant, Tenant]:
    """Two agencies: the callers act for the first; the second's resources are foreign."""
    return await _tenant(clients, infra, tokens), await _tenant(clients, infra, tokens)


async def _routes(client: httpx.AsyncClient, service: str) -> set[str]:
    document = (await client.get("/openapi.json")).json()
    return {
        f"{service} {method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }


async def test_every_route_of_every_service_has_a_row(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    documented: set[str] = set()
    for service in SERVICES:
        documented |= await _routes(clients[service], service)
    assert sorted(documented - set(MATRIX)) == [], "routes without a row in MATRIX"
    assert sorted(set(MATRIX) - documented) == [], "rows of routes no service has"


@pytest.mark.parametrize("service", SERVICES)
async def test_each_caller_gets_exactly_the_allowed_answer(
    service: str,
    clients: dict[str, httpx.AsyncClient],
    tenants: tuple[Tenant, Tenant],
    tokens: Tokens,
) -> None:
    mine, foreign = tenants
    client = clients[service]
    answers: list[str] = []
    mismatches: list[str] = []
    for key in sorted(await _routes(client, service)):
        route = MATRIX[key]
        _, method, path = key.split(" ")
        if isinstance(route, Public):
            if route is PROBE:
                probed = await client.get(path)
                assert probed.status_code == 200, (key, probed.text)
            continue
        scoped = any(resource in path for resource in TENANT_RESOURCES)
        for owner_of_path in (mine, foreign) if scoped else (mine,):
            url = path.format(**owner_of_path.path_values)
            for caller in CALLERS:
                headers = _headers(tokens, caller, mine, owner_of_path.workspace_id)
                body = BODIES[key](mine) if key in BODIES else None
                response = await client.request(method, url, json=body, headers=headers)
                want = expected(route, caller, own=owner_of_path is mine)
                tenant = "own" if owner_of_path is mine else "other"
                answers.append(f"{key} {caller} {tenant}: {response.status_code}")
                if response.status_code != want:
                    mismatches.append(
                        f"{key} as {caller} on the {tenant} agency's: "
                        f"{response.status_code} (want {want}) {response.text[:200]}"
                    )
                elif want >= 400:
                    assert response.json()["error"]["code"] == ERROR_CODES[want], key
    assert mismatches == [], "\n".join(mismatches)
    assert answers, service


ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 422: "validation_error"}
