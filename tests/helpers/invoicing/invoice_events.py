"""One invoice's life as Stripe tells it, in signed Connect events shaped like Stripe's own
fixtures: created, finalized, a declined attempt, paid, refunded in two steps, disputed and
decided. Posted to webhook-ingest, they reach the invoice mirror as in production."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    fixture,
    new_id,
    signed,
    stripe_event,
)


@dataclass
class InvoiceStory:
    account: str
    agency_id: str
    workspace_id: str
    amount: int = 12_000
    fee: int = 60
    start: int = field(default_factory=lambda: int(time.time()) - 60)
    invoice_id: str = field(default_factory=lambda: new_id("in"))
    payment_intent_id: str = field(default_factory=lambda: new_id("pi"))
    charge_id: str = field(default_factory=lambda: new_id("ch"))
    dispute_id: str = field(default_factory=lambda: new_id("dp"))

    def invoice(self, status: str, **overrides: Any) -> dict[str, Any]:
        paid = status == "paid"
        opened = status != "draft"
        obj = fixture(
            "invoice",
            id=self.invoice_id,
            status=status,
            created=self.start,
            currency="usd",
            customer="cus_story",
            description="Discovery sprint",
            collection_method="send_invoice",
            amount_due=self.amount,
            amount_paid=self.amount if paid else 0,
            amount_remaining=0 if paid else self.amount,
            subtotal=self.amount,
            total=self.amount,
            attempt_count=0,
            hosted_invoice_url=f"https://invoice.example/{self.invoice_id}" if opened else None,
            parent=None,
            subscription=None,
            last_finalization_error=None,
            metadata={
                "agency_id": self.agency_id,
                "workspace_id": self.workspace_id,
                "application_fee_cents": str(self.fee),
            },
            status_transitions={
                "finalized_at": self.start + 1 if opened else None,
                "paid_at": self.start + 5 if paid else None,
                "marked_uncollectible_at": None,
                "voided_at": None,
            },
        )
        obj.update(overrides)
        return obj

    def charge(self, refunded: int = 0, disputed: bool = False) -> dict[str, Any]:
        return fixture(
            "charge",
            id=self.charge_id,
            amount=self.amount,
            amount_captured=self.amount,
            amount_refunded=refunded,
            refunded=refunded == self.amount,
            disputed=disputed,
            paid=True,
            status="succeeded",
            currency="usd",
            customer="cus_story",
            payment_intent=self.payment_intent_id,
            application_fee=None,
            application_fee_amount=self.fee,
            balance_transaction=None,
            refunds=None,
            metadata={},
        )

    def dispute(self, status: str) -> dict[str, Any]:
        return fixture(
            "dispute",
            id=self.dispute_id,
            amount=self.amount,
            currency="usd",
            charge=self.charge_id,
            payment_intent=self.payment_intent_id,
            reason="fraudulent",
            status=status,
            balance_transactions=[],
            metadata={},
        )

    def invoice_payment(self) -> dict[str, Any]:
        return fixture(
            "invoice_payment",
            id=new_id("inpay"),
            invoice=self.invoice_id,
            amount_paid=self.amount,
            amount_requested=self.amount,
            currency="usd",
            status="paid",
            payment={
                "type": "payment_intent",
                "payment_intent": self.payment_intent_id,
                "charge": self.charge_id,
            },
        )

    def events(self) -> list[dict[str, Any]]:
        """The whole story in the order Stripe lived it, one second apart."""
        story: list[tuple[str, dict[str, Any]]] = [
            ("invoice.created", self.invoice("draft")),
            ("invoice.finalized", self.invoice("open")),
            ("invoice.sent", self.invoice("open")),
            ("invoice.payment_failed", self.invoice("open", attempt_count=1)),
            ("invoice.updated", self.invoice("open", attempt_count=1)),
            ("charge.succeeded", self.charge()),
            ("invoice.paid", self.invoice("paid", attempt_count=2)),
            ("invoice.payment_succeeded", self.invoice("paid", attempt_count=2)),
            ("invoice_payment.paid", self.invoice_payment()),
            ("charge.refunded", self.charge(refunded=2_000)),
            ("charge.refunded", self.charge(refunded=5_000)),
            ("charge.dispute.created", self.dispute("needs_response")),
            ("charge.dispute.updated", self.dispute("under_review")),
            ("charge.dispute.closed", self.dispute("lost")),
        ]
        return [
            stripe_event(kind, obj, account=self.account, created=self.start + second)
            for second, (kind, obj) in enumerate(story)
        ]


async def deliver(client: httpx.AsyncClient, ingest: str, event: dict[str, Any]) -> None:
    """One signed delivery to webhook-ingest's Connect endpoint."""
    body = json.dumps(event).encode()
    response = await client.post(
        f"{ingest}/stripe/webhooks/connect", content=body, headers=signed(body, CONNECT_SECRET)
    )
    assert response.status_code == 200, response.text
