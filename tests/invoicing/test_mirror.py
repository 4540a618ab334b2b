"""Gaps in what the mirror saw are filled from Stripe: a payment event about an invoice the
mirror never heard of finds its invoice through Stripe's invoice payments and mirrors it as
Stripe has it. Runs the mirror on a database of its own against the real emulator."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe
from sqlalchemy import func
from sqlmodel import select

from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from invoicing.models import Invoice, kit_tables
from invoicing.repository import InvoicingRepository
from invoicing.service.mirror import Mirror, PaymentFacts
from invoicing.stripe_gateway import InvoicingStripe
from tests.helpers.agencies import Agency
from tests.helpers.databases import service_sessions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[Any]:
    async with service_sessions(infra.database_url, "invoicing") as made:
        yield made


async def test_a_payment_of_an_unknown_invoice_brings_the_invoice_from_stripe(
    agency: Agency, stripe_sdk: stripe.StripeClient, sessions: Any, infra: Infra
) -> None:
    assert agency.account_id is not None
    assert infra.stripe_api_base is not None
    options: Any = {"stripe_account": agency.account_id}
    workspace_id = f"ws-{uuid.uuid4().hex[:10]}"
    metadata = {"agency_id": agency.agency_id, "workspace_id": workspace_id}
    customer = await stripe_sdk.v1.customers.create_async(options=options)
    invoice = await stripe_sdk.v1.invoices.create_async(
        params={"customer": customer.id, "collection_method": "send_invoice", "metadata": metadata},
        options=options,
    )
    assert invoice.id is not None
    await stripe_sdk.v1.invoice_items.create_async(
        params={"customer": customer.id, "invoice": invoice.id, "amount": 7_500, "currency": "usd"},
        options=options,
    )
    await stripe_sdk.v1.invoices.finalize_invoice_async(invoice.id, options=options)
    payments = await stripe_sdk.v1.invoice_payments.list_async(
        params={"invoice": invoice.id}, options=options
    )
    intent = payments.data[0].payment.payment_intent
    assert isinstance(intent, str)

    async with (
        stripe_client("sk_test_gaps", infra.stripe_api_base) as client,
        unit_of_work(sessions) as session,
    ):
        mirror = Mirror(
            session,
            InvoicingRepository(session),
            Outbox(kit_tables.outbox),
            InvoicingStripe(client),
        )
        await mirror.apply_payment(
            PaymentFacts(
                payment_intent_id=intent, account=agency.account_id, stripe_created=int(time.time())
            ),
            agency_id=agency.agency_id,
        )

    async with sessions() as session:
        row = (
            await session.execute(select(Invoice).where(Invoice.stripe_invoice_id == invoice.id))
        ).scalar_one()
        announced = await session.execute(select(func.count()).select_from(kit_tables.outbox))
    assert (row.status, row.amount_due, row.kind) == ("open", 7_500, "one_off")
    assert (row.agency_id, row.workspace_id) == (agency.agency_id, workspace_id)
    assert row.hosted_invoice_url is not None
    assert announced.scalar_one() == 2  # invoice.mirrored, invoice.issued
