"""Connect onboarding over HTTP against the running stack: the gate that opens billing."""

from __future__ import annotations

import time

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import announce_account, start_onboarding, wait_for_status
from tests.helpers.catalog.accounts import applied_by_catalog
from tests.helpers.catalog.requests import RETAINER, create, error_of
from tests.helpers.tokens import Tokens, new_agency_id

pytestmark = [pytest.mark.integration]

# --- Connect onboarding ----------------------------------------------------------------------


async def test_connect_status_moves_from_not_started_to_pending_to_enabled_and_back(
    catalog: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> None:
    agency_id = new_agency_id()
    before = await catalog.get("/v1/connect", headers=tokens.headers("admin", agency_id))
    assert before.json() == {
        "account_id": None, "charges_enabled": False, "details_submitted": False,
        "status": "not_started",
    }  # fmt: skip

    agency = await start_onboarding(catalog, tokens)
    status = (await catalog.get("/v1/connect", headers=agency.owner)).json()
    assert status["status"] == "pending"
    assert status["account_id"] == agency.account_id
    assert agency.account_id
    assert agency.account_id.startswith("acct_")

    async def announce(charges_enabled: bool, created: int) -> None:
        assert agency.account_id is not None
        event_id = await announce_account(
            infra.kafka_bootstrap, agency.agency_id, agency.account_id,
            charges_enabled=charges_enabled, created=created,
        )  # fmt: skip
        await applied_by_catalog(infra, event_id)

    now = int(time.time())
    await announce(charges_enabled=True, created=now)
    await wait_for_status(catalog, agency, "enabled")
    # An older event arriving late does not close the gate again ...
    await announce(charges_enabled=False, created=now - 60)
    status = (await catalog.get("/v1/connect", headers=agency.owner)).json()
    assert (status["status"], status["charges_enabled"]) == ("enabled", True)
    # ... but a newer one saying Stripe disabled charges does.
    await announce(charges_enabled=False, created=now + 60)
    status = (await catalog.get("/v1/connect", headers=agency.owner)).json()
    assert (status["status"], status["charges_enabled"]) == ("pending", False)


@pytest.mark.parametrize("field", ["return_url", "refresh_url"])
@pytest.mark.parametrize(
    "url", ["x", "app.example/return", "ftp://app.example/r", "javascript:alert(1)", "https://"]
)
async def test_an_onboarding_url_that_is_not_http_is_refused_and_nothing_is_made(
    catalog: httpx.AsyncClient, tokens: Tokens, field: str, url: str
) -> None:
    agency_id = new_agency_id()
    body = {"return_url": "https://app.example/return", "refresh_url": "https://app.example/r"}
    response = await catalog.post(
        "/v1/connect/onboarding",
        json={**body, field: url},
        headers=tokens.headers("owner", agency_id),
    )
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert [item["field"] for item in error["fields"]] == [field]  # type: ignore[attr-defined]
    status = await catalog.get("/v1/connect", headers=tokens.headers("owner", agency_id))
    assert status.json()["status"] == "not_started"


async def test_onboarding_reuses_the_account_and_gives_a_fresh_link(
    catalog: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency = await start_onboarding(catalog, tokens)
    again = await catalog.post(
        "/v1/connect/onboarding",
        json={"return_url": "https://app.example/return", "refresh_url": "https://app.example/r"},
        headers=agency.owner,
    )
    assert again.status_code == 200
    body = again.json()
    assert body["account_id"] == agency.account_id
    assert body["url"].startswith("http")
    assert body["expires_at"] > time.time()


async def test_no_product_before_onboarding_completes(
    catalog: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency = await start_onboarding(catalog, tokens)
    response = await create(catalog, agency)
    assert response.status_code == 409
    assert error_of(response)["code"] == "connect_required"
    assert "Connect Stripe to start billing" in str(error_of(response)["message"])
    never_onboarded = tokens.headers("owner", new_agency_id())
    response = await catalog.post("/v1/products", json=RETAINER, headers=never_onboarded)
    assert response.status_code == 409
