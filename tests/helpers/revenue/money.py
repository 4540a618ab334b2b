"""Money made on the Stripe emulator the way the platform makes it: direct charges on an
agency's connected account, every object carrying ``metadata[agency_id|workspace_id]`` and
the platform's 0.5 % application fee."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import stripe
from stripe.params import BalanceTransactionListParams

from tests.helpers.tokens import new_agency_id

LEDGER_TYPES = {
    "charge",
    "payment",
    "refund",
    "refund_failure",
    "adjustment",
    "application_fee_refund",
}


def platform_fee(amount: int) -> int:
    """0.5 %, half-up to the cent."""
    return (amount * 5 + 500) // 1000


@dataclass(frozen=True)
class Shop:
    """An agency's connected account on Stripe, and the SDK acting on it."""

    agency_id: str
    account_id: str
    sdk: stripe.StripeClient

    @property
    def on_account(self) -> Any:
        return {"stripe_account": self.account_id}

    def customer(self, workspace_id: str) -> str:
        created = self.sdk.v1.customers.create(
            params={
                "email": f"billing@{workspace_id}.example",
                "metadata": {"agency_id": self.agency_id, "workspace_id": workspace_id},
            },
            options=self.on_account,
        )
        return created.id

    def one_off(self, workspace_id: str, amount: int, payment_method: str = "pm_card_visa") -> str:
        """A one-off invoice, finalized and paid; returns the invoice id."""
        customer = self.customer(workspace_id)
        metadata = {"agency_id": self.agency_id, "workspace_id": workspace_id}
        self.sdk.v1.invoice_items.create(
            params={"customer": customer, "amount": amount, "currency": "usd"},
            options=self.on_account,
        )
        invoice = self.sdk.v1.invoices.create(
            params={
                "customer": customer,
                "collection_method": "send_invoice",
                "days_until_due": 7,
                "application_fee_amount": platform_fee(amount),
                "pending_invoice_items_behavior": "include",
                "metadata": metadata,
                "auto_advance": False,
            },
            options=self.on_account,
        )
        assert invoice.id is not None
        self.sdk.v1.invoices.finalize_invoice(invoice.id, options=self.on_account)
        self.sdk.v1.invoices.pay(
            invoice.id, params={"payment_method": payment_method}, options=self.on_account
        )
        return invoice.id

    def price(self, amount: int, interval: Literal["month", "year"] = "month") -> str:
        price = self.sdk.v1.prices.create(
            params={
                "currency": "usd",
                "unit_amount": amount,
                "recurring": {"interval": interval},
                "product_data": {"name": f"Retainer of {amount} a {interval}"},
            },
            options=self.on_account,
        )
        return price.id

    def subscription(
        self, workspace_id: str, amount: int, interval: Literal["month", "year"] = "month"
    ) -> str:
        """A subscription whose first invoice is charged at once."""
        customer = self.customer(workspace_id)
        price = self.price(amount, interval)
        subscription = self.sdk.v1.subscriptions.create(
            params={
                "customer": customer,
                "items": [{"price": price}],
                "application_fee_percent": 0.5,
                "default_payment_method": "pm_card_visa",
                "metadata": {"agency_id": self.agency_id, "workspace_id": workspace_id},
            },
            options=self.on_account,
        )
        return subscription.id

    def charge_of(self, invoice_id: str) -> str:
        payments = self.sdk.v1.invoice_payments.list(
            params={"invoice": invoice_id}, options=self.on_account
        )
        payment = payments.data[0].payment.to_dict()
        intent = self.sdk.v1.payment_intents.retrieve(
            payment["payment_intent"], options=self.on_account
        )
        charge = intent.latest_charge
        assert charge is not None
        return charge if isinstance(charge, str) else charge.id

    def refund(self, charge_id: str, amount: int) -> None:
        self.sdk.v1.refunds.create(
            params={"charge": charge_id, "amount": amount, "refund_application_fee": True},
            options=self.on_account,
        )

    def lose_dispute(self, charge_id: str) -> None:
        disputes = self.sdk.v1.disputes.list(params={"charge": charge_id}, options=self.on_account)
        self.sdk.v1.disputes.close(disputes.data[0].id, options=self.on_account)

    def migrate(self, subscription_id: str, amount: int) -> int:
        """The subscription moved to a new monthly price from its next invoice on (as the
        subscriptions service migrates ``when=next_period``); returns when, on Stripe."""
        subscription = self.sdk.v1.subscriptions.retrieve(subscription_id, options=self.on_account)
        item = subscription["items"].data[0].id
        updated = self.sdk.v1.subscriptions.update(
            subscription_id,
            params={
                "items": [{"id": item, "price": self.price(amount)}],
                "proration_behavior": "none",
            },
            options=self.on_account,
        )
        return self.last_event_at(updated.id)

    def cancel(self, subscription_id: str) -> int:
        self.sdk.v1.subscriptions.cancel(subscription_id, options=self.on_account)
        return self.last_event_at(subscription_id)

    def last_event_at(self, object_id: str) -> int:
        """When Stripe last told of ``object_id`` (its newest event's ``created``)."""
        events = self.sdk.v1.events.list(params={"limit": 100}, options=self.on_account).data
        return max(e.created for e in events if e.data.object.to_dict().get("id") == object_id)

    def first_paid_at(self, subscription_id: str) -> int:
        invoices = self.sdk.v1.invoices.list(
            params={"subscription": subscription_id, "status": "paid"}, options=self.on_account
        ).data
        return min(int(i.status_transitions.paid_at or 0) for i in invoices)

    def balance_transactions(self, payout: str | None = None) -> list[dict[str, Any]]:
        """The account's balance transactions (those a payout settled, and its own)."""
        params: BalanceTransactionListParams = {"limit": 100}
        if payout is not None:
            params["payout"] = payout
        page = self.sdk.v1.balance_transactions.list(params=params, options=self.on_account)
        return [txn.to_dict() for txn in page.auto_paging_iter()]

    def payouts(self) -> list[dict[str, Any]]:
        page = self.sdk.v1.payouts.list(params={"limit": 100}, options=self.on_account)
        return [payout.to_dict() for payout in page.auto_paging_iter()]

    def settled_by(self, payout_id: str) -> list[dict[str, Any]]:
        """What a payout settled (its own transaction left out)."""
        return [
            txn
            for txn in self.balance_transactions(payout=payout_id)
            if not (txn["type"] == "payout" and txn["source"] == payout_id)
        ]


async def open_shop(sdk: stripe.StripeClient, emulator: httpx.AsyncClient) -> Shop:
    """A new agency whose connected account completed onboarding."""
    agency_id = new_agency_id()
    account = sdk.v1.accounts.create(
        params={"type": "express", "metadata": {"agency_id": agency_id}}
    )
    done = await emulator.post(f"/_emulator/accounts/{account.id}/complete_onboarding")
    assert done.status_code == 200, done.text
    return Shop(agency_id, account.id, sdk)


def expected_summary(transactions: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The owner's figures, computed straight from Stripe's balance transactions."""
    totals = dict.fromkeys(
        ("gross_cents", "platform_fee_cents", "stripe_fee_cents", "refunded_cents",
         "disputed_cents", "net_cents"),
        0,
    )  # fmt: skip
    for txn in transactions:
        kind = txn["type"]
        if kind not in LEDGER_TYPES:
            continue
        fees = {"application_fee": 0, "stripe_fee": 0}
        for detail in txn["fee_details"]:
            fees[detail["type"]] += detail["amount"]
        totals["net_cents"] += txn["net"]
        totals["stripe_fee_cents"] += fees["stripe_fee"]
        totals["platform_fee_cents"] += fees["application_fee"]
        if kind in ("charge", "payment"):
            totals["gross_cents"] += txn["amount"]
        elif kind in ("refund", "refund_failure"):  # a failed refund's amount comes back
            totals["refunded_cents"] -= txn["amount"]
        elif kind == "adjustment":
            totals["disputed_cents"] -= txn["amount"]
        else:
            totals["platform_fee_cents"] -= txn["amount"]
    return totals


def new_workspace_id() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"
