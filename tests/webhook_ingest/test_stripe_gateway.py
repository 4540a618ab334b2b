"""What webhook-ingest reads from Stripe (the emulator) for an event before publishing it:
where a payment belongs, a refunded fee's movements on the agency's balance, a subscription's
state. Each read gives the same answer however often it is made; Stripe away is an outage
the enricher waits out, not an answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from billing_devstack import Infra
from billing_kit.errors import UnavailableError
from billing_kit.stripe_client import stripe_client
from tests.helpers.revenue.money import Shop, new_workspace_id, open_shop
from tests.helpers.stripe_sdk import emulator_sdk
from webhook_ingest.rules.normalize import FiguresLookup
from webhook_ingest.stripe_gateway import IngestStripe

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def emulator(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as client:
        yield client
        await client.delete("/_emulator/faults")


@pytest.fixture
async def shop(infra: Infra, emulator: httpx.AsyncClient) -> Shop:
    assert infra.stripe_api_base is not None
    sdk = emulator_sdk(infra.stripe_api_base)
    return await open_shop(sdk, emulator)


@pytest.fixture
async def reads(infra: Infra) -> AsyncIterator[IngestStripe]:
    assert infra.stripe_api_base is not None
    async with stripe_client("sk_test_emulator", infra.stripe_api_base) as client:
        yield IngestStripe(client)


async def test_a_charge_is_attributed_to_the_invoice_it_paid_and_that_invoice_s_tenant(
    shop: Shop, reads: IngestStripe
) -> None:
    workspace = new_workspace_id()
    invoice = await asyncio.to_thread(shop.one_off, workspace, 12_000)
    charge = await asyncio.to_thread(shop.charge_of, invoice)
    lookup = FiguresLookup(account=shop.account_id, attribute_charge=charge)

    found = await reads.read(lookup)

    told = found["attribution"]
    assert (told.charge_id, told.invoice_id) == (charge, invoice)
    assert (told.agency_id, told.workspace_id) == (shop.agency_id, workspace)
    assert told.payment_intent_id is not None
    assert told.invoice_created is not None
    assert await reads.read(lookup) == found  # the same answer, read again


async def test_a_refunded_fee_s_movements_are_the_agency_s_balance_transactions(
    shop: Shop, reads: IngestStripe
) -> None:
    invoice = await asyncio.to_thread(shop.one_off, new_workspace_id(), 20_000)
    charge_id = await asyncio.to_thread(shop.charge_of, invoice)
    await asyncio.to_thread(shop.refund, charge_id, 5_000)
    charge = shop.sdk.v1.charges.retrieve(charge_id, options=shop.on_account)
    fee_id = charge.application_fee
    fee_id = fee_id if isinstance(fee_id, str) else fee_id.id if fee_id else None
    assert fee_id is not None

    found = await reads.read(
        FiguresLookup(account=shop.account_id, fee_refunds_of=fee_id, attribute_charge=charge_id)
    )

    on_stripe = [
        txn
        for txn in await asyncio.to_thread(shop.balance_transactions)
        if txn["type"] == "application_fee_refund"
    ]
    carried = found["refund_balance_transactions"]
    assert [(f.balance_transaction_id, f.net, f.created, f.type) for f in carried] == [
        (t["id"], t["net"], t["created"], "application_fee_refund") for t in on_stripe
    ]
    assert found["attribution"].invoice_id == invoice


async def test_a_subscription_s_state_is_read_with_its_latest_invoice(
    shop: Shop, reads: IngestStripe
) -> None:
    subscription = await asyncio.to_thread(shop.subscription, new_workspace_id(), 9_900)

    found = await reads.read(
        FiguresLookup(account=shop.account_id, state_of_subscription=subscription)
    )

    state = found["stripe_state"]
    assert state.status == "active"
    assert state.latest_invoice_id is not None
    assert (state.latest_invoice_status, state.latest_invoice_amount_due) == ("paid", 9_900)


async def test_stripe_answering_500_is_an_outage_not_an_answer(
    shop: Shop, reads: IngestStripe, emulator: httpx.AsyncClient
) -> None:
    invoice = await asyncio.to_thread(shop.one_off, new_workspace_id(), 3_000)
    charge = await asyncio.to_thread(shop.charge_of, invoice)
    armed = await emulator.post(
        "/_emulator/faults", json={"fail_next": {"count": 100, "status": 500, "method": "GET"}}
    )
    assert armed.status_code == 200, armed.text
    with pytest.raises(UnavailableError):
        await reads.read(FiguresLookup(account=shop.account_id, attribute_charge=charge))


async def test_what_never_changes_is_read_from_stripe_once(
    shop: Shop, reads: IngestStripe, emulator: httpx.AsyncClient
) -> None:
    """A payment's second event asks for the same figures and attribution: they come from
    what the worker kept, even with Stripe away."""
    invoice = await asyncio.to_thread(shop.one_off, new_workspace_id(), 4_500)
    charge = await asyncio.to_thread(shop.charge_of, invoice)
    lookup = FiguresLookup(account=shop.account_id, charge_id=charge, attribute_charge=charge)
    first = await reads.read(lookup)
    assert first["figures"].gross == 4_500
    assert first["attribution"].invoice_id == invoice
    armed = await emulator.post(
        "/_emulator/faults", json={"fail_next": {"count": 100, "status": 500, "method": "GET"}}
    )
    assert armed.status_code == 200, armed.text
    try:
        again = await reads.read(lookup)
        other = FiguresLookup(account=shop.account_id, charge_id="ch_never_read_before")
        with pytest.raises(UnavailableError):  # what it never read still needs Stripe
            await reads.read(other)
    finally:
        await emulator.delete("/_emulator/faults")
    assert again == first
