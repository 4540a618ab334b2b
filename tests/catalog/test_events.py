"""What catalog announces: every product and agency change reaches its topic, in order, and
subscriptions keeps its replica of the products from them."""

from __future__ import annotations

import json

import httpx
import pytest

from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_devstack import Infra
from tests.helpers.agencies import Agency
from tests.helpers.databases import connect
from tests.helpers.kafka import read_topic
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


async def events_for(infra: Infra, topic: str, key: str) -> list[dict[str, object]]:
    records = await read_topic(infra.kafka_bootstrap, topic)
    return [json.loads(r.value or b"{}") for r in records if r.key == key.encode()]


async def test_product_changes_are_announced_in_order(
    catalog: httpx.AsyncClient, agency: Agency, infra: Infra
) -> None:
    product = (
        await catalog.post(
            "/v1/products",
            json={"name": "Discovery sprint", "cadence": "one_time", "amount_cents": 120_000},
            headers=agency.admin,
        )
    ).json()
    await catalog.patch(
        f"/v1/products/{product['id']}", json={"name": "Discovery"}, headers=agency.admin
    )
    await catalog.post(f"/v1/products/{product['id']}/archive", headers=agency.admin)

    async def all_three() -> bool:
        return len(await events_for(infra, PRODUCTS.name, product["id"])) == 3

    await eventually(all_three)
    events = await events_for(infra, PRODUCTS.name, product["id"])
    assert [e["type"] for e in events] == ["product.created", "product.updated", "product.archived"]
    assert [e["payload"]["revision"] for e in events] == [1, 2, 3]  # type: ignore[index]
    assert {e["agency_id"] for e in events} == {agency.agency_id}
    assert events[2]["payload"]["stripe_price_id"] == product["stripe_price_id"]  # type: ignore[index]


async def test_subscriptions_keeps_a_replica_of_the_newest_revision(
    catalog: httpx.AsyncClient, agency: Agency, infra: Infra
) -> None:
    product = (
        await catalog.post(
            "/v1/products",
            json={"name": "Retainer", "cadence": "yearly", "amount_cents": 1_200_000},
            headers=agency.admin,
        )
    ).json()
    await catalog.post(f"/v1/products/{product['id']}/archive", headers=agency.admin)
    conn = await connect(infra.database_url)
    try:

        async def archived_in_replica() -> bool:
            row = await conn.fetchrow(
                "SELECT status, revision, stripe_price_id FROM subscriptions.product_replicas "
                "WHERE product_id = $1",
                product["id"],
            )
            return row is not None and row["status"] == "archived" and row["revision"] == 2

        await eventually(archived_in_replica)
    finally:
        await conn.close()


async def test_suspension_and_connect_status_are_announced(
    catalog: httpx.AsyncClient, agency: Agency, tokens: Tokens, infra: Infra
) -> None:
    operator = tokens.headers("platform_operator")
    path = f"/v1/agencies/{agency.agency_id}/suspension"
    await catalog.put(path, json={"suspended": True, "reason": "chargebacks"}, headers=operator)
    await catalog.put(path, json={"suspended": True, "reason": "chargebacks"}, headers=operator)
    await catalog.put(path, json={"suspended": False}, headers=operator)

    async def four_events() -> bool:
        return len(await events_for(infra, AGENCIES.name, agency.agency_id)) == 4

    await eventually(four_events)
    events = await events_for(infra, AGENCIES.name, agency.agency_id)
    assert [e["type"] for e in events] == [
        "agency.connect_status_changed",  # account created: pending
        "agency.connect_status_changed",  # charges enabled: enabled
        "agency.suspended",  # the repeated suspension announced nothing
        "agency.unsuspended",
    ]
    statuses = [e["payload"]["connect_status"] for e in events]  # type: ignore[index]
    assert statuses == ["pending", "enabled", "enabled", "enabled"]
    assert events[2]["payload"]["suspension_reason"] == "chargebacks"  # type: ignore[index]


async def test_an_agency_never_onboarded_can_be_suspended(
    catalog: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> None:
    agency_id = new_agency_id()
    response = await catalog.put(
        f"/v1/agencies/{agency_id}/suspension",
        json={"suspended": True},
        headers=tokens.headers("platform_operator"),
    )
    assert response.status_code == 200

    async def announced() -> bool:
        return len(await events_for(infra, AGENCIES.name, agency_id)) == 1

    await eventually(announced)
    (event,) = await events_for(infra, AGENCIES.name, agency_id)
    assert event["payload"]["connect_status"] == "not_started"  # type: ignore[index]
