"""catalog over HTTP against the running stack: the rules of Step 1 and who may do what."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import stripe

from tests.helpers.agencies import Agency
from tests.helpers.catalog.requests import RETAINER, create, error_of
from tests.helpers.tokens import Tokens, new_agency_id

pytestmark = [pytest.mark.integration]

# --- authentication and roles -------------------------------------------------------------


async def test_no_or_bad_token_is_401(catalog: httpx.AsyncClient, tokens: Tokens) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        tokens.headers("owner", "a", expires_in=-5),
    ):
        response = await catalog.get("/v1/products", headers=headers)
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthenticated"


@pytest.mark.parametrize("role", ["member", "client"])
async def test_members_and_clients_may_not_touch_billing(
    catalog: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    headers = tokens.headers(role, new_agency_id(), workspace_ids=["ws"])
    for method, path, body in [
        ("GET", "/v1/products", None),
        ("POST", "/v1/products", RETAINER),
        ("GET", "/v1/connect", None),
        ("POST", "/v1/connect/onboarding", {"return_url": "x", "refresh_url": "y"}),
    ]:
        response = await catalog.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert error_of(response)["code"] == "forbidden"


async def test_only_the_owner_starts_onboarding(catalog: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await catalog.post(
        "/v1/connect/onboarding",
        json={"return_url": "https://a", "refresh_url": "https://b"},
        headers=tokens.headers("admin", new_agency_id()),
    )
    assert response.status_code == 403


async def test_only_a_platform_operator_suspends(
    catalog: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency_id = new_agency_id()
    response = await catalog.put(
        f"/v1/agencies/{agency_id}/suspension",
        json={"suspended": True},
        headers=tokens.headers("owner", agency_id),
    )
    assert response.status_code == 403


# --- products ------------------------------------------------------------------------------


async def test_a_product_is_created_with_its_stripe_product_and_price(
    catalog: httpx.AsyncClient, agency: Agency, stripe_sdk: stripe.StripeClient
) -> None:
    response = await create(catalog, agency, description="Monthly automation work")
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["name"] == "Automation retainer"
    assert product["description"] == "Monthly automation work"
    assert (product["cadence"], product["amount_cents"], product["currency"]) == (
        "monthly", 250_000, "usd",
    )  # fmt: skip
    assert product["status"] == "active"
    assert product["stripe_price_id"].startswith("price_")

    options: stripe.RequestOptions = {"stripe_account": agency.account_id or ""}
    price = await stripe_sdk.v1.prices.retrieve_async(product["stripe_price_id"], options=options)
    assert price.unit_amount == 250_000
    assert price.currency == "usd"
    assert price.recurring is not None
    assert price.recurring.interval == "month"
    assert price.product == product["stripe_product_id"]
    stripe_product = await stripe_sdk.v1.products.retrieve_async(
        product["stripe_product_id"], options=options
    )
    assert stripe_product.name == "Automation retainer"
    assert stripe_product.metadata["agency_id"] == agency.agency_id

    fetched = await catalog.get(f"/v1/products/{product['id']}", headers=agency.owner)
    assert fetched.json() == product


@pytest.mark.parametrize(("cadence", "interval"), [("yearly", "year"), ("one_time", None)])
async def test_cadence_decides_the_kind_of_price(
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    cadence: str,
    interval: str | None,
) -> None:
    product = (await create(catalog, agency, cadence=cadence, amount_cents=50)).json()
    price = await stripe_sdk.v1.prices.retrieve_async(
        product["stripe_price_id"], options={"stripe_account": agency.account_id or ""}
    )
    assert (price.recurring.interval if price.recurring else None) == interval
    assert price.type == ("recurring" if interval else "one_time")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 49}, "amount_cents"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -100}, "amount_cents"),
        ({"amount_cents": 50.5}, "amount_cents"),
        ({"amount_cents": 100.0}, "amount_cents"),
        ({"amount_cents": "2500"}, "amount_cents"),
        ({"amount_cents": True}, "amount_cents"),
        ({"amount_cents": 100_000_000}, "amount_cents"),
        ({"name": ""}, "name"),
        ({"name": "x" * 100}, "name"),
        ({"description": "d" * 500}, "description"),
        ({"cadence": "weekly"}, "cadence"),
        ({"currency": "eur"}, "currency"),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    catalog: httpx.AsyncClient, agency: Agency, body: dict[str, object], field: str
) -> None:
    response = await create(catalog, agency, **body)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in {item["field"] for item in error["fields"]}  # type: ignore[attr-defined]
    listed = await catalog.get("/v1/products?status=all", headers=agency.owner)
    assert listed.json()["data"] == []


async def test_limits_are_inclusive(catalog: httpx.AsyncClient, agency: Agency) -> None:
    response = await create(catalog, agency, name="n" * 99, description="d" * 499, amount_cents=50)
    assert response.status_code == 201, response.text
    response = await create(catalog, agency, amount_cents=99_999_999)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "change",
    [
        {"amount_cents": 300_000},
        {"amount_cents": 10},  # not even a valid amount: still the immutability answer
        {"amount_cents": 250_000},  # the same amount is still a price field
        {"cadence": "yearly"},
        {"cadence": None},
        {"currency": "eur"},
        {"currency": "usd"},
        {"name": "Renamed", "amount_cents": "a lot"},
    ],
)
async def test_prices_are_immutable(
    catalog: httpx.AsyncClient, agency: Agency, change: dict[str, object]
) -> None:
    product = (await create(catalog, agency)).json()
    response = await catalog.patch(
        f"/v1/products/{product['id']}", json=change, headers=agency.admin
    )
    assert response.status_code == 409, response.text
    error = error_of(response)
    assert error["code"] == "price_immutable"
    assert "archive" in str(error["message"]).lower()
    unchanged = await catalog.get(f"/v1/products/{product['id']}", headers=agency.admin)
    assert unchanged.json() == product


async def test_renaming_changes_our_product_and_stripe_s(
    catalog: httpx.AsyncClient, agency: Agency, stripe_sdk: stripe.StripeClient
) -> None:
    product = (await create(catalog, agency)).json()
    response = await catalog.patch(
        f"/v1/products/{product['id']}",
        json={"name": "Retainer (2027)", "description": "New terms"},
        headers=agency.admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Retainer (2027)"
    assert response.json()["stripe_price_id"] == product["stripe_price_id"]
    on_stripe = await stripe_sdk.v1.products.retrieve_async(
        product["stripe_product_id"], options={"stripe_account": agency.account_id or ""}
    )
    assert (on_stripe.name, on_stripe.description) == ("Retainer (2027)", "New terms")


async def test_archiving_hides_a_product_from_new_subscriptions_but_keeps_it(
    catalog: httpx.AsyncClient, agency: Agency, stripe_sdk: stripe.StripeClient
) -> None:
    kept = (await create(catalog, agency, name="Kept")).json()
    product = (await create(catalog, agency, name="Old retainer")).json()
    archived = await catalog.post(f"/v1/products/{product['id']}/archive", headers=agency.admin)
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"

    def ids(response: httpx.Response) -> set[str]:
        return {item["id"] for item in response.json()["data"]}

    assert ids(await catalog.get("/v1/products", headers=agency.admin)) == {kept["id"]}
    assert ids(await catalog.get("/v1/products?status=archived", headers=agency.admin)) == {
        product["id"]
    }
    assert ids(await catalog.get("/v1/products?status=all", headers=agency.admin)) == {
        kept["id"], product["id"],
    }  # fmt: skip
    options: stripe.RequestOptions = {"stripe_account": agency.account_id or ""}
    price = await stripe_sdk.v1.prices.retrieve_async(product["stripe_price_id"], options=options)
    on_stripe = await stripe_sdk.v1.products.retrieve_async(
        product["stripe_product_id"], options=options
    )
    assert price.active is False
    assert on_stripe.active is False
    again = await catalog.post(f"/v1/products/{product['id']}/archive", headers=agency.admin)
    assert again.json() == archived.json()


async def test_archiving_finishes_on_stripe_when_a_call_between_price_and_product_fails(
    catalog: httpx.AsyncClient,
    agency: Agency,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
) -> None:
    product = (await create(catalog, agency)).json()
    fault = {"count": 1, "status": 400, "path": f"/v1/products/{product['stripe_product_id']}"}
    armed = await emulator.post(
        "/_emulator/faults", json={"fail_next": {**fault, "method": "POST"}}
    )
    assert armed.status_code == 200, armed.text
    try:
        archived = await catalog.post(f"/v1/products/{product['id']}/archive", headers=agency.admin)
        left = (await emulator.get("/_emulator/faults")).json()["fail_next"]
    finally:
        await emulator.delete("/_emulator/faults")
    assert left == [], "the armed failure was hit"
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"
    options: stripe.RequestOptions = {"stripe_account": agency.account_id or ""}
    price = await stripe_sdk.v1.prices.retrieve_async(product["stripe_price_id"], options=options)
    on_stripe = await stripe_sdk.v1.products.retrieve_async(
        product["stripe_product_id"], options=options
    )
    assert (price.active, on_stripe.active) == (False, False)


async def test_an_unknown_status_filter_is_refused(
    catalog: httpx.AsyncClient, agency: Agency
) -> None:
    response = await catalog.get("/v1/products?status=deleted", headers=agency.admin)
    assert response.status_code == 422


async def test_another_agency_s_product_is_not_found(
    catalog: httpx.AsyncClient, agency: Agency, tokens: Tokens
) -> None:
    product = (await create(catalog, agency)).json()
    stranger = tokens.headers("owner", new_agency_id())
    for method, path in [
        ("GET", f"/v1/products/{product['id']}"),
        ("PATCH", f"/v1/products/{product['id']}"),
        ("POST", f"/v1/products/{product['id']}/archive"),
    ]:
        response = await catalog.request(method, path, json={"name": "mine"}, headers=stranger)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    assert (await catalog.get("/v1/products", headers=stranger)).json()["data"] == []


# --- Idempotency-Key -----------------------------------------------------------------------


async def test_concurrent_creates_with_one_key_make_one_product_and_one_price(
    catalog: httpx.AsyncClient, agency: Agency, stripe_sdk: stripe.StripeClient
) -> None:
    headers = {**agency.admin, "Idempotency-Key": str(uuid.uuid4())}
    responses = await asyncio.gather(
        *[catalog.post("/v1/products", json=RETAINER, headers=headers) for _ in range(4)]
    )
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    listed = (await catalog.get("/v1/products?status=all", headers=agency.admin)).json()["data"]
    assert len(listed) == 1
    prices = await stripe_sdk.v1.prices.list_async(
        params={"limit": 100}, options={"stripe_account": agency.account_id or ""}
    )
    assert len(prices.data) == 1


async def test_a_reused_key_with_another_body_is_refused(
    catalog: httpx.AsyncClient, agency: Agency
) -> None:
    headers = {**agency.admin, "Idempotency-Key": str(uuid.uuid4())}
    first = await catalog.post("/v1/products", json=RETAINER, headers=headers)
    assert first.status_code == 201
    other = await catalog.post(
        "/v1/products", json={**RETAINER, "amount_cents": 9_900}, headers=headers
    )
    assert other.status_code == 422
    assert error_of(other)["code"] == "validation_error"
    listed = (await catalog.get("/v1/products?status=all", headers=agency.admin)).json()["data"]
    assert len(listed) == 1


# --- suspension ----------------------------------------------------------------------------


async def test_an_operator_suspends_and_unsuspends_an_agency(
    catalog: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency_id = new_agency_id()
    operator = tokens.headers("platform_operator")
    path = f"/v1/agencies/{agency_id}/suspension"
    response = await catalog.put(
        path, json={"suspended": True, "reason": "unpaid"}, headers=operator
    )
    assert response.json() == {"agency_id": agency_id, "suspended": True, "reason": "unpaid"}
    response = await catalog.put(path, json={"suspended": False}, headers=operator)
    assert response.json() == {"agency_id": agency_id, "suspended": False, "reason": None}
    response = await catalog.put(path, json={"suspended": "maybe"}, headers=operator)
    assert response.status_code == 422


async def test_a_price_stripe_refuses_leaves_nothing_half_made(
    catalog: httpx.AsyncClient,
    agency: Agency,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
) -> None:
    armed = await emulator.post(
        "/_emulator/faults",
        json={"fail_next": {"count": 1, "status": 400, "path": "/v1/prices", "method": "POST"}},
    )
    assert armed.status_code == 200, armed.text
    try:
        response = await create(catalog, agency, name="Half made")
    finally:
        await emulator.delete("/_emulator/faults")
    assert response.status_code == 502
    assert error_of(response)["code"] == "stripe_error"
    listed = await catalog.get("/v1/products?status=all", headers=agency.admin)
    assert listed.json()["data"] == []
    options: stripe.RequestOptions = {"stripe_account": agency.account_id or ""}
    made = await stripe_sdk.v1.products.list_async(params={"limit": 100}, options=options)
    assert [(p.name, p.active) for p in made.data] == [("Half made", False)]
    prices = await stripe_sdk.v1.prices.list_async(params={"limit": 100}, options=options)
    assert prices.data == []
