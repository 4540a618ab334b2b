"""Before you start + Step 1 of the client-billing guide, through the whole stack: the owner
onboards on Stripe's hosted page, Stripe's signed ``account.updated`` webhook opens the
billing gate, and products are created, archived and listed."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RETURN_URL = "https://app.example/settings/billing/connect"


async def test_onboarding_opens_the_gate_and_products_follow(
    catalog: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency_id = new_agency_id()
    owner = tokens.headers("owner", agency_id)
    admin = tokens.headers("admin", agency_id)
    retainer = {"name": "Automation retainer", "cadence": "monthly", "amount_cents": 250_000}

    link = await catalog.post(
        "/v1/connect/onboarding",
        json={"return_url": RETURN_URL, "refresh_url": "https://app.example/r"},
        headers=owner,
    )  # fmt: skip
    assert link.status_code == 200, link.text
    refused = await catalog.post("/v1/products", json=retainer, headers=admin)
    assert refused.status_code == 409
    assert "Connect Stripe to start billing" in refused.json()["error"]["message"]

    # The owner follows the link and completes onboarding on Stripe's hosted page, which
    # sends them back to the agency's return URL.
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(link.json()["url"])
        assert page.status_code == 200
        action = re.search(r"action='([^']+)'", page.text)
        assert action is not None, page.text
        done = await browser.post(str(page.url.join(action.group(1))))
        assert done.status_code == 303
        assert done.headers["location"] == RETURN_URL

    async def enabled() -> bool:
        status = (await catalog.get("/v1/connect", headers=admin)).json()
        return bool(status["status"] == "enabled" and status["charges_enabled"])

    await eventually(enabled, within=60)  # webhook → webhook-ingest → Kafka → catalog

    created = await catalog.post("/v1/products", json=retainer, headers=admin)
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["stripe_price_id"].startswith("price_")

    archived = await catalog.post(f"/v1/products/{product['id']}/archive", headers=admin)
    assert archived.json()["status"] == "archived"
    active = (await catalog.get("/v1/products", headers=admin)).json()["data"]
    everything = (await catalog.get("/v1/products?status=all", headers=admin)).json()["data"]
    assert product["id"] not in {item["id"] for item in active}
    assert [item["id"] for item in everything] == [product["id"]]
