"""A connected account Stripe no longer knows (deleted, or the platform's access revoked):
onboarding records it as disconnected and makes a new account instead of failing forever."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.helpers.agencies import start_onboarding
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]

URLS = {"return_url": "https://app.example/return", "refresh_url": "https://app.example/r"}


@pytest.mark.parametrize("how", ["deleted", "deauthorized"])
async def test_onboarding_makes_a_new_account_when_stripe_no_longer_knows_the_old_one(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    tokens: Tokens,
    how: str,
) -> None:
    agency = await start_onboarding(catalog, tokens)
    old = agency.account_id
    assert old is not None
    if how == "deleted":
        stripe_sdk.v1.accounts.delete(old)
    else:
        revoked = await emulator.post(f"/_emulator/accounts/{old}/deauthorize")
        assert revoked.status_code == 200, revoked.text

    again = await catalog.post("/v1/connect/onboarding", json=URLS, headers=agency.owner)
    assert again.status_code == 200, again.text
    new = again.json()["account_id"]
    assert new.startswith("acct_")
    assert new != old
    assert again.json()["url"].startswith("http")
    assert stripe_sdk.v1.accounts.retrieve(new).id == new
    connect = (await catalog.get("/v1/connect", headers=agency.owner)).json()
    assert (connect["account_id"], connect["status"]) == (new, "pending")

    # The same account from then on.
    third = await catalog.post("/v1/connect/onboarding", json=URLS, headers=agency.owner)
    assert third.status_code == 200, third.text
    assert third.json()["account_id"] == new


async def test_an_account_that_revokes_access_shows_disconnected(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency = await start_onboarding(catalog, tokens)
    old = agency.account_id
    revoked = await emulator.post(f"/_emulator/accounts/{old}/deauthorize")
    assert revoked.status_code == 200, revoked.text

    async def disconnected() -> bool:
        connect = (await catalog.get("/v1/connect", headers=agency.owner)).json()
        return bool(connect["status"] == "disconnected")

    await eventually(disconnected, within=60)
    again = await catalog.post("/v1/connect/onboarding", json=URLS, headers=agency.owner)
    assert again.status_code == 200, again.text
    assert again.json()["account_id"] not in (None, old)
