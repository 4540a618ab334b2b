"""An agency whose connected account revoked the platform's access bills nothing more: its
Connect status says ``disconnected``, and starting, migrating or charging answers
``connect_required`` until onboarding makes a new account."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.agencies import Agency
from tests.helpers.subscriptions.reading import error_of
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import create_product, subscribed_workspace

pytestmark = [pytest.mark.integration]


async def test_a_disconnected_agency_must_connect_again_to_bill(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    services: dict[str, str],
    agency: Agency,
) -> None:
    workspace_id, product_id, body = await subscribed_workspace(subscriptions, catalog, agency)
    other = await create_product(catalog, agency, amount_cents=300_000)
    revoked = await emulator.post(f"/_emulator/accounts/{agency.account_id}/deauthorize")
    assert revoked.status_code == 200, revoked.text

    async def disconnected() -> bool:
        connect = (await catalog.get("/v1/connect", headers=agency.owner)).json()
        return bool(connect["status"] == "disconnected")

    await eventually(disconnected, within=60)
    start = f"/v1/workspaces/{workspace_id}/subscriptions"
    refusals: dict[str, httpx.Response] = {}

    async def every_command_refused() -> bool:
        async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as invoicing:
            refusals["start"] = await subscriptions.post(
                start, json={"product_id": product_id}, headers=agency.admin
            )
            refusals["migrate"] = await subscriptions.post(
                f"{start}/{body['id']}/migrate", json={"product_id": other}, headers=agency.admin
            )
            refusals["charge"] = await invoicing.post(
                f"/v1/workspaces/{workspace_id}/invoices",
                json={"description": "Landing page", "amount_cents": 70_000},
                headers=agency.admin,
            )
        return all(r.status_code == 409 for r in refusals.values())

    await eventually(every_command_refused, within=60)
    for name, refused in refusals.items():
        assert error_of(refused)["code"] == "connect_required", name
        assert "Connect Stripe to start billing" in error_of(refused)["message"], name
