"""Client workspaces and subscriptions through the subscriptions API, for tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import stripe

from tests.helpers.agencies import Agency
from tests.helpers.waiting import eventually

RETAINER = {"name": "Automation retainer", "cadence": "monthly", "amount_cents": 250_000}


def new_workspace_id() -> str:
    return f"ws-{uuid.uuid4().hex[:12]}"


def workspace_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme Corp",
        "billing_contact": {"email": "billing@acme.example", "name": "Ada Billing"},
        "client_members": [
            {"user_id": "u-1", "email": "first@acme.example", "name": "First"},
            {"user_id": "u-2", "email": "second@acme.example", "name": "Second"},
        ],
    }
    body.update(overrides)
    return body


async def register_workspace(
    subscriptions: httpx.AsyncClient, agency: Agency, **overrides: Any
) -> str:
    workspace_id = new_workspace_id()
    response = await subscriptions.put(
        f"/v1/workspaces/{workspace_id}", json=workspace_body(**overrides), headers=agency.admin
    )
    assert response.status_code == 200, response.text
    return workspace_id


async def create_product(catalog: httpx.AsyncClient, agency: Agency, **body: Any) -> str:
    response = await catalog.post("/v1/products", json={**RETAINER, **body}, headers=agency.admin)
    assert response.status_code == 201, response.text
    product_id: str = response.json()["id"]
    return product_id


async def post_when_replicated(
    service: httpx.AsyncClient, agency: Agency, path: str, body: dict[str, Any]
) -> httpx.Response:
    """``POST path`` as the agency's admin once catalog's events about the agency and its
    products reached the service (until then it answers ``connect_required`` or
    ``not_found``)."""
    response: httpx.Response | None = None

    async def answered() -> bool:
        nonlocal response
        response = await service.post(path, json=body, headers=agency.admin)
        code = response.json().get("error", {}).get("code")
        return code not in ("connect_required", "not_found")

    await eventually(answered, within=60)
    assert response is not None
    return response


async def start_when_replicated(
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    workspace_id: str,
    product_id: str,
    **start: Any,
) -> httpx.Response:
    """Start a subscription once subscriptions knows the agency and the product."""
    path = f"/v1/workspaces/{workspace_id}/subscriptions"
    return await post_when_replicated(
        subscriptions, agency, path, {"product_id": product_id, **start}
    )


async def started(
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    workspace_id: str,
    product_id: str,
    **start: Any,
) -> dict[str, Any]:
    response = await start_when_replicated(subscriptions, agency, workspace_id, product_id, **start)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(
    subscriptions: httpx.AsyncClient, agency: Agency, workspace_id: str
) -> list[dict[str, Any]]:
    response = await subscriptions.get(
        f"/v1/workspaces/{workspace_id}/subscriptions", headers=agency.admin
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def subscription_status(
    subscriptions: httpx.AsyncClient, agency: Agency, workspace_id: str, subscription_id: str
) -> str:
    everything = await listed(subscriptions, agency, workspace_id)
    (found,) = [s for s in everything if s["id"] == subscription_id]
    status: str = found["status"]
    return status


async def subscribed_workspace(
    subscriptions: httpx.AsyncClient, catalog: httpx.AsyncClient, agency: Agency, **product: Any
) -> tuple[str, str, dict[str, Any]]:
    """A new workspace with a subscription to a new product: (workspace, product, answer)."""
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency, **product)
    return workspace_id, product_id, await started(subscriptions, agency, workspace_id, product_id)


def on_account(agency: Agency) -> stripe.RequestOptions:
    """Stripe request options that act on the agency's connected account."""
    return {"stripe_account": agency.account_id or ""}
