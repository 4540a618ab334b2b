"""Steps the SaaS-fee tests share: plans, agencies' balances and payout schedules, the
emulator's clock."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import stripe

from tests.helpers.waiting import eventually

DAY = 86400


async def create_plan(
    subscriptions: httpx.AsyncClient,
    operator: dict[str, str],
    amount_cents: int = 4900,
    interval: str = "month",
) -> dict[str, Any]:
    response = await subscriptions.post(
        "/v1/platform/plans",
        json={
            "name": f"Studio {uuid.uuid4().hex[:6]}",
            "amount_cents": amount_cents,
            "interval": interval,
        },
        headers=operator,
    )
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def put_on_plan(
    subscriptions: httpx.AsyncClient, operator: dict[str, str], agency_id: str, plan_id: str
) -> dict[str, Any]:
    response = await subscriptions.post(
        f"/v1/platform/agencies/{agency_id}/plan", json={"plan_id": plan_id}, headers=operator
    )
    assert response.status_code == 201, response.text
    agency_plan: dict[str, Any] = response.json()
    return agency_plan


def set_payout_schedule(sdk: stripe.StripeClient, account: str, **schedule: Any) -> None:
    params: Any = {"settings": {"payouts": {"schedule": schedule}}}
    sdk.v1.accounts.update(account, params=params)


def payout_schedule(sdk: stripe.StripeClient, account: str) -> dict[str, Any]:
    found = sdk.v1.accounts.retrieve(account).settings
    assert found is not None
    assert found.payouts is not None
    return dict(found.payouts.schedule.to_dict())


def available(sdk: stripe.StripeClient, account: str) -> int:
    balance = sdk.v1.balance.retrieve(options={"stripe_account": account})
    return sum(entry.amount for entry in balance.available if entry.currency == "usd")


def card_payment(sdk: stripe.StripeClient, account: str, amount: int) -> None:
    """A client pays the agency by card: pending funds on its balance."""
    sdk.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
        options={"stripe_account": account},
    )


async def advance_clock(emulator: httpx.AsyncClient, seconds: int) -> int:
    response = await emulator.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text
    return int(response.json()["now"])


async def clock_now(emulator: httpx.AsyncClient) -> int:
    return int((await emulator.get("/_emulator/clock")).json()["now"])


async def fund(
    sdk: stripe.StripeClient, emulator: httpx.AsyncClient, account: str, amount: int
) -> None:
    """A card payment that becomes available (the account's payouts are manual)."""
    card_payment(sdk, account, amount)
    await advance_clock(emulator, 3 * DAY)


async def collection_of(
    invoicing: httpx.AsyncClient,
    operator: dict[str, str],
    stripe_invoice_id: str,
    **expected: Any,
) -> dict[str, Any]:
    """The operator's view of the invoice's collection, once it shows ``expected``."""
    found: dict[str, Any] = {}

    async def shows() -> bool:
        response = await invoicing.get(
            "/v1/platform/collections", params={"status": "all"}, headers=operator
        )
        assert response.status_code == 200, response.text
        for row in response.json()["data"]:
            if row["stripe_invoice_id"] == stripe_invoice_id:
                found.update(row)
                return all(row.get(k) == v for k, v in expected.items())
        return False

    await eventually(shows, within=60)
    return found


async def start_on_monday(emulator: httpx.AsyncClient) -> dt.datetime:
    """Move the clock to next Monday 01:00 UTC: Stripe's second balance retry (a Sunday) is
    then six days after its first."""
    now = dt.datetime.fromtimestamp(await clock_now(emulator), dt.UTC)
    monday = (now + dt.timedelta(days=7 - now.weekday())).replace(hour=1, minute=0, second=0)
    await advance_clock(emulator, int((monday - now).total_seconds()))
    return monday


def retire(sdk: stripe.StripeClient, account: str) -> None:
    """End what a test left running on the shared emulator for this agency (its plan
    subscriptions, its automatic payouts), so later clock advances do not carry it along."""
    params: Any = {"customer_account": account, "status": "all"}
    for sub in sdk.v1.subscriptions.list(params=params).data:
        if sub.status not in ("canceled", "incomplete_expired"):
            sdk.v1.subscriptions.cancel(sub.id)
    set_payout_schedule(sdk, account, interval="manual")


def balance_billed_account(sdk: stripe.StripeClient, emulator_url: str) -> str:
    """An onboarded agency's account (as catalog makes them), also a customer of the platform."""
    account = sdk.v1.accounts.create(params={"type": "express", "email": "a@example.com"})
    httpx.post(
        f"{emulator_url}/_emulator/accounts/{account.id}/complete_onboarding"
    ).raise_for_status()
    sdk.v2.core.accounts.update(
        account.id,
        params={"configuration": {"customer": {}, "merchant": {}}},
    )
    return account.id


def failed_balance_invoice(sdk: stripe.StripeClient, account: str, amount: int = 4900) -> Any:
    """A plan subscription paid from the account's Stripe balance whose first invoice failed
    for funds (the balance is empty)."""
    product = sdk.v1.products.create(params={"name": "Studio"})
    price = sdk.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": amount,
            "recurring": {"interval": "month"},
        }
    )
    setup = sdk.v1.setup_intents.create(
        params={
            "allowed_payment_method_types": ["stripe_balance"],
            "customer_account": account,
            "confirm": True,
            "usage": "off_session",
        }
    )
    params: Any = {
        "customer_account": account,
        "items": [{"price": price.id}],
        "default_payment_method": setup.payment_method,
        "payment_settings": {"payment_method_types": ["stripe_balance"]},
        "expand": ["latest_invoice"],
    }
    sub = sdk.v1.subscriptions.create(params=params)
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    return invoice
