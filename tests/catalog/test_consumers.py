"""What catalog does with Stripe's signed ``account.updated`` webhooks (through webhook-ingest
and the broker): the billing gate follows Stripe, monotonically, whatever the delivery order."""

from __future__ import annotations

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import Agency, start_onboarding, wait_for_status
from tests.helpers.catalog.accounts import AccountWebhooks, stripe_now
from tests.helpers.tokens import Tokens

pytestmark = [pytest.mark.integration]


async def gate(catalog: httpx.AsyncClient, agency: Agency) -> tuple[str, bool]:
    status = (await catalog.get("/v1/connect", headers=agency.owner)).json()
    return status["status"], status["charges_enabled"]


@pytest.fixture
async def agency(catalog: httpx.AsyncClient, tokens: Tokens) -> Agency:
    """An agency whose Connect account exists on Stripe, onboarding not done there."""
    return await start_onboarding(catalog, tokens)


@pytest.fixture
def webhooks(services: dict[str, str], infra: Infra, agency: Agency) -> AccountWebhooks:
    return AccountWebhooks(services["webhook-ingest"], infra, agency)


async def complete_onboarding_on_stripe(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, agency: Agency
) -> None:
    """The owner finishes onboarding; Stripe's own webhook opens the gate."""
    done = await emulator.post(f"/_emulator/accounts/{agency.account_id}/complete_onboarding")
    assert done.status_code == 200, done.text
    await wait_for_status(catalog, agency, "enabled")


async def test_stripe_s_own_webhook_opens_the_gate(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, agency: Agency
) -> None:
    assert await gate(catalog, agency) == ("pending", False)
    await complete_onboarding_on_stripe(catalog, emulator, agency)
    assert await gate(catalog, agency) == ("enabled", True)


async def test_updates_of_one_second_out_of_order_leave_open_a_gate_stripe_has_open(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    agency: Agency,
    webhooks: AccountWebhooks,
) -> None:
    await complete_onboarding_on_stripe(catalog, emulator, agency)
    # Within one second Stripe sent "not yet" and then "enabled"; they arrive the other way.
    second = await stripe_now(emulator) + 60
    await webhooks.deliver(charges_enabled=True, created=second)
    await webhooks.deliver(charges_enabled=False, created=second)
    assert await gate(catalog, agency) == ("enabled", True)


@pytest.fixture
async def opened_at(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    agency: Agency,
    webhooks: AccountWebhooks,
) -> int:
    """An update enabling charges (not yet so on Stripe) has opened the gate; its second."""
    second = await stripe_now(emulator) + 60
    await webhooks.deliver(charges_enabled=True, created=second)
    assert await gate(catalog, agency) == ("enabled", True)
    return second


async def test_on_a_tie_stripe_s_current_state_wins_even_when_it_closes_the_gate(
    catalog: httpx.AsyncClient, agency: Agency, webhooks: AccountWebhooks, opened_at: int
) -> None:
    await webhooks.deliver(charges_enabled=False, created=opened_at)  # Stripe agrees
    assert await gate(catalog, agency) == ("pending", False)


async def test_an_older_update_arriving_late_changes_nothing(
    catalog: httpx.AsyncClient, agency: Agency, webhooks: AccountWebhooks, opened_at: int
) -> None:
    await webhooks.deliver(charges_enabled=False, created=opened_at - 1)
    assert await gate(catalog, agency) == ("enabled", True)
    await webhooks.deliver(charges_enabled=False, created=opened_at + 1)
    assert await gate(catalog, agency) == ("pending", False)
