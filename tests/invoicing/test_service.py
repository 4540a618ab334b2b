"""``Invoicing`` (``invoicing.service``) over the fakes of its ports, one request's
transaction at a time as the edge runs it: "Charge for project" (its gate, its pending record,
Stripe's refusals, the same ``Idempotency-Key`` again, a crash before the commit) and the
portal's views (invoices, subscriptions, the card page)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from billing_contracts.invoicing_invoices import InvoiceSnapshot
from billing_kit.errors import (
    AgencySuspendedCannotBillError,
    BillingError,
    ConnectRequiredError,
    NotFoundError,
    StripeFailedError,
)
from invoicing.models import Invoice, Payment, Product, Subscription
from invoicing.repository import invoice_id_for
from invoicing.schemas import OneOffInvoiceCreate
from invoicing.service import ONE_OFF_INVOICE, Invoicing, WorkspaceCustomer
from tests.helpers.invoicing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

AGENCY, WORKSPACE = "agency-1", "ws-1"
ACCOUNT, CUSTOMER = "acct_agency1", "cus_ws1"
PROJECT = OneOffInvoiceCreate(description="Discovery sprint", amount_cents=12_345)
FEE = 62  # 0.5 % of 12,345, half up


def _world() -> FakeUnitOfWork:
    """An agency that may bill, with a workspace whose customer subscriptions made."""
    world = FakeUnitOfWork()
    world.agency(AGENCY, ACCOUNT)
    world.customers.known[AGENCY, WORKSPACE] = WorkspaceCustomer(ACCOUNT, CUSTOMER, "ap@acme.test")
    return world


async def _charge(world: FakeUnitOfWork) -> InvoiceSnapshot:
    async def charge(invoicing: Invoicing) -> InvoiceSnapshot:
        return await invoicing.charge_for_project(AGENCY, WORKSPACE, PROJECT)

    return await world.in_invoicing(charge)


def _nothing_kept(world: FakeUnitOfWork) -> None:
    assert world.tables.invoices == {}
    assert world.outbox.published == []
    assert world.stripe.invoices == {}


# --- Charge for project -------------------------------------------------------------------


async def test_charge_for_project_issues_an_open_invoice_with_the_platform_fee() -> None:
    world = _world()
    invoice = await _charge(world)

    assert (invoice.status, invoice.kind, invoice.workspace_id) == ("open", "one_off", WORKSPACE)
    assert (invoice.amount_due_cents, invoice.application_fee_cents) == (12_345, FEE)
    assert invoice.description == "Discovery sprint"
    assert invoice.hosted_invoice_url is not None
    assert invoice.invoice_id == invoice_id_for(invoice.stripe_invoice_id)

    (record,) = world.commands.records.values()
    assert (record.kind, record.status, record.agency_id) == (ONE_OFF_INVOICE, "done", AGENCY)
    assert record.result == {"stripe_invoice_id": invoice.stripe_invoice_id}
    assert record.request == {
        "agency_id": AGENCY,
        "workspace_id": WORKSPACE,
        "account_id": ACCOUNT,
        "customer_id": CUSTOMER,
        "description": "Discovery sprint",
        "amount_cents": 12_345,
    }
    on_stripe = world.stripe.invoices[invoice.stripe_invoice_id]
    assert (on_stripe["account"], on_stripe["customer"]) == (ACCOUNT, CUSTOMER)
    assert on_stripe["application_fee_amount"] == FEE
    assert on_stripe["metadata"] == {
        "agency_id": AGENCY,
        "workspace_id": WORKSPACE,
        "one_off_id": record.id,
        "application_fee_cents": str(FEE),
    }
    assert world.stripe.calls == ["issue_one_off"]

    published = world.outbox.published
    assert [row.event_type for row in published] == ["invoice.mirrored", "invoice.issued"]
    assert {(row.topic, row.key) for row in published} == {
        ("invoicing.invoices.v1", invoice.invoice_id)
    }
    assert {(row.event.agency_id, row.event.workspace_id) for row in published} == {
        (AGENCY, WORKSPACE)
    }
    assert published[-1].event.payload == invoice
    assert {row.session for row in published} == {world.sessions[-1]}  # with the invoice's row
    row = world.tables.invoices[invoice.stripe_invoice_id]
    assert (row.planned_application_fee, row.agency_id, row.revision) == (FEE, AGENCY, 1)


@pytest.mark.parametrize(
    ("profile", "refusal"),
    [
        (None, ConnectRequiredError),
        ({"account_id": None, "charges_enabled": True}, ConnectRequiredError),
        ({"account_id": ACCOUNT, "charges_enabled": False}, ConnectRequiredError),
        ({"account_id": ACCOUNT, "suspended": True}, AgencySuspendedCannotBillError),
    ],
    ids=["unknown-agency", "no-account", "charges-disabled", "suspended"],
)
async def test_an_agency_that_may_not_bill_is_refused_before_anything_is_made(
    profile: dict[str, Any] | None, refusal: type[BillingError]
) -> None:
    world = _world()
    del world.tables.agencies[AGENCY]
    if profile is not None:
        world.agency(AGENCY, **profile)

    with pytest.raises(refusal):
        await _charge(world)

    assert world.customers.asked == []
    assert world.commands.records == {}
    assert world.stripe.calls == []
    _nothing_kept(world)


@pytest.mark.parametrize(
    ("workspace", "refusal", "raised"),
    [
        ("ws-unknown", None, NotFoundError),
        (WORKSPACE, StripeFailedError("Stripe refused the customer."), StripeFailedError),
        (WORKSPACE, AgencySuspendedCannotBillError(), AgencySuspendedCannotBillError),
    ],
    ids=["unknown-workspace", "customer-not-made", "refused-by-subscriptions"],
)
async def test_a_workspace_without_its_customer_is_refused_before_stripe_is_called(
    workspace: str, refusal: BillingError | None, raised: type[BillingError]
) -> None:
    world = _world()
    world.customers.refusal = refusal

    async def charge(invoicing: Invoicing) -> InvoiceSnapshot:
        return await invoicing.charge_for_project(AGENCY, workspace, PROJECT)

    with pytest.raises(raised):
        await world.in_invoicing(charge)

    assert world.customers.asked == [(AGENCY, workspace)]
    assert world.commands.records == {}
    assert world.stripe.calls == []
    _nothing_kept(world)


async def test_stripe_refusing_a_step_withdraws_what_was_made_and_fails_the_record() -> None:
    world = _world()
    world.stripe.failures["issue_one_off"] = StripeFailedError("Your card was declined.")

    with pytest.raises(StripeFailedError, match="declined"):
        await _charge(world)

    (record,) = world.commands.records.values()
    assert (record.status, record.result) == ("failed", None)
    assert world.stripe.calls == ["issue_one_off", "withdraw_one_off"]
    _nothing_kept(world)  # the draft Stripe made was deleted


async def test_a_withdrawal_stripe_cannot_make_leaves_the_record_undoing_for_the_sweeper() -> None:
    world = _world()
    world.stripe.failures["issue_one_off"] = StripeFailedError("Your card was declined.")
    world.stripe.failures["withdraw_one_off"] = StripeFailedError("Stripe is unreachable.")

    with pytest.raises(StripeFailedError, match="unreachable"):
        await _charge(world)

    (record,) = world.commands.records.values()
    assert record.status == "undoing"
    assert [i["status"] for i in world.stripe.one_offs(record.id)] == ["draft"]  # left to undo
    assert world.tables.invoices == {}
    assert world.outbox.published == []


async def test_the_same_idempotency_key_again_answers_the_invoice_already_made() -> None:
    world = _world()
    world.commands.idempotency_key = "key-1"
    first = await _charge(world)
    second = await _charge(world)

    assert second == first
    assert len(world.stripe.invoices) == 1
    assert world.stripe.calls == ["issue_one_off", "invoice"]
    assert len(world.commands.records) == 1
    assert world.outbox.types() == ["invoice.mirrored", "invoice.issued"]  # announced once


async def test_a_crash_before_the_commit_is_finished_by_the_same_key() -> None:
    """Stripe issued the invoice, then the request died before its commit: the record is
    still pending and nothing was mirrored; the retry makes the same Stripe calls under the
    record's keys, so Stripe keeps one invoice, and it is announced once."""
    world = _world()
    world.commands.idempotency_key = "key-1"

    async def crash(invoicing: Invoicing) -> None:
        await invoicing.charge_for_project(AGENCY, WORKSPACE, PROJECT)
        raise RuntimeError("killed before the commit")

    with pytest.raises(RuntimeError):
        await world.in_invoicing(crash)
    (record,) = world.commands.records.values()
    assert record.status == "pending"
    assert world.tables.invoices == {}
    assert world.outbox.published == []

    invoice = await _charge(world)

    (record,) = world.commands.records.values()
    assert (record.status, record.result) == (
        "done",
        {"stripe_invoice_id": invoice.stripe_invoice_id},
    )
    assert list(world.stripe.invoices) == [invoice.stripe_invoice_id]
    assert world.stripe.calls == ["issue_one_off", "issue_one_off"]
    assert world.outbox.types() == ["invoice.mirrored", "invoice.issued"]


# --- The portal's views -------------------------------------------------------------------


def _invoice(stripe_invoice_id: str, status: str, day: int, **fields: Any) -> Invoice:
    values: dict[str, Any] = {
        "agency_id": AGENCY,
        "workspace_id": WORKSPACE,
        "stripe_account_id": ACCOUNT,
        "stripe_customer_id": CUSTOMER,
        "kind": "one_off",
        "currency": "usd",
        "amount_due": 1_000 * day,
        "subtotal": 1_000 * day,
        "stripe_created_at": datetime(2026, 1, day, tzinfo=UTC),
    }
    return Invoice(
        id=invoice_id_for(stripe_invoice_id),
        stripe_invoice_id=stripe_invoice_id,
        status=status,
        **{**values, **fields},
    )


def _mirrored(world: FakeUnitOfWork, *rows: Invoice | Subscription | Payment | Product) -> None:
    tables = world.tables
    for row in rows:
        match row:
            case Invoice():
                tables.invoices[row.stripe_invoice_id] = row
            case Subscription():
                tables.subscriptions[row.stripe_subscription_id] = row
            case Payment():
                tables.payments[row.payment_intent_id] = row
            case Product():
                tables.products[row.product_id] = row


def _subscription(sub_id: str, status: str, **fields: Any) -> Subscription:
    values: dict[str, Any] = {"agency_id": AGENCY, "workspace_id": WORKSPACE, **fields}
    return Subscription(stripe_subscription_id=sub_id, status=status, **values)


async def test_a_workspace_s_invoices_are_its_issued_ones_newest_first() -> None:
    world = _world()
    _mirrored(
        world,
        _invoice("in_old", "paid", 1),
        _invoice("in_new", "open", 3, stripe_subscription_id="sub_1"),
        _invoice("in_draft", "draft", 4),
        _invoice("in_other", "open", 2, workspace_id="ws-2"),
        _subscription("sub_1", "past_due", application_fee_percent=2.5),
        Payment(payment_intent_id="pi_1", stripe_invoice_id="in_old", charge_id="ch_1"),
    )

    async def listed(invoicing: Invoicing) -> tuple[list[InvoiceSnapshot], ...]:
        every = await invoicing.workspace_invoices(AGENCY, WORKSPACE)
        outstanding = await invoicing.workspace_invoices(AGENCY, WORKSPACE, outstanding=True)
        return every, outstanding

    every, outstanding = await world.in_invoicing(listed)

    assert [i.stripe_invoice_id for i in every] == ["in_new", "in_old"]
    assert [i.stripe_invoice_id for i in outstanding] == ["in_new"]
    new, old = every
    assert (new.past_due, new.application_fee_cents) == (True, 75)  # its subscription's 2.5 %
    assert (old.stripe_payment_intent_id, old.stripe_charge_id) == ("pi_1", "ch_1")
    assert world.outbox.published == []


async def test_another_agency_s_workspace_reads_as_no_workspace() -> None:
    world = _world()
    _mirrored(world, _invoice("in_theirs", "open", 1, agency_id="agency-2"))

    with pytest.raises(NotFoundError):
        await world.in_invoicing(lambda invoicing: invoicing.workspace_invoices(AGENCY, WORKSPACE))
    with pytest.raises(NotFoundError):
        await world.in_invoicing(
            lambda invoicing: invoicing.active_subscriptions(AGENCY, WORKSPACE)
        )
    unknown = await world.in_invoicing(
        lambda invoicing: invoicing.workspace_invoices(AGENCY, "ws-new")
    )
    assert unknown == []  # a workspace nobody billed yet is an empty one


async def test_the_active_subscriptions_are_those_not_ended_with_the_product_they_bill() -> None:
    world = _world()
    _mirrored(
        world,
        _subscription("sub_a", "active", stripe_price_id="price_new"),
        _subscription("sub_b", "past_due", stripe_price_id="price_gone"),
        _subscription("sub_c", "canceled", stripe_price_id="price_new"),
        _subscription("sub_d", "active", workspace_id="ws-2", stripe_price_id="price_new"),
        Product(product_id="p-1", name="Retainer", stripe_price_id="price_new"),
    )

    found = await world.in_invoicing(
        lambda invoicing: invoicing.active_subscriptions(AGENCY, WORKSPACE)
    )

    assert [(sub.stripe_subscription_id, product and product.name) for sub, product in found] == [
        ("sub_a", "Retainer"),
        ("sub_b", None),
    ]


async def test_the_card_page_opens_on_the_customer_the_mirror_knows() -> None:
    world = _world()
    known = _subscription("sub_a", "active", stripe_account_id=ACCOUNT, stripe_customer_id="cus_1")
    _mirrored(world, known)

    url = await world.in_invoicing(
        lambda invoicing: invoicing.payment_methods_url(AGENCY, WORKSPACE, "https://back.test")
    )

    assert url == f"https://billing.stripe.test/{ACCOUNT}/cus_1?return_url=https://back.test"
    assert world.customers.asked == []


async def test_the_card_page_of_a_workspace_never_billed_asks_for_its_customer() -> None:
    world = _world()
    url = await world.in_invoicing(
        lambda invoicing: invoicing.payment_methods_url(AGENCY, WORKSPACE, "https://back.test")
    )
    assert url.startswith(f"https://billing.stripe.test/{ACCOUNT}/{CUSTOMER}?")
    assert world.customers.asked == [(AGENCY, WORKSPACE)]

    with pytest.raises(NotFoundError):
        await world.in_invoicing(
            lambda invoicing: invoicing.payment_methods_url(AGENCY, "ws-unknown", "https://x.test")
        )
    assert world.stripe.calls == ["customer_portal_url"]
