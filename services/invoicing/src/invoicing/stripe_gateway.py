"""invoicing's calls to Stripe, always on the agency's connected account (``Stripe-Account``).

Every create carries an idempotency key derived from our own ids, so a retry (ours or the
SDK's) never makes a second invoice or line.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
import structlog
from stripe import RequestOptions

from billing_kit.stripe_client import stripe_failed

log = structlog.get_logger(__name__)
T = TypeVar("T")

DAYS_UNTIL_DUE = 30
"""How long the client has to pay a one-off invoice before Stripe marks it overdue."""


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except stripe.StripeError as exc:
        raise stripe_failed(exc) from exc


@dataclass(frozen=True)
class OneOffInvoice:
    """What the agency asked for, with the ids its Stripe objects are keyed by."""

    command_id: str
    account_id: str
    customer_id: str
    description: str
    amount_cents: int
    currency: str
    application_fee_cents: int
    metadata: dict[str, str]


def _is_missing(exc: stripe.StripeError) -> bool:
    """Stripe says the object (or the account) does not exist: not worth a retry."""
    return isinstance(exc, stripe.InvalidRequestError | stripe.PermissionError) or (
        exc.http_status == 404
    )


class InvoicingStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def issue_one_off(self, command: OneOffInvoice) -> dict[str, Any]:
        """Draft, line, finalize, send: an open invoice Stripe has emailed; on any failure
        the draft is deleted (or the finalized invoice voided) and nothing stays behind."""
        options: RequestOptions = {"stripe_account": command.account_id}
        invoice = await _call(
            self.client.v1.invoices.create_async(
                params={
                    "customer": command.customer_id,
                    "currency": command.currency,
                    "collection_method": "send_invoice",
                    "days_until_due": DAYS_UNTIL_DUE,
                    "auto_advance": False,
                    "description": command.description,
                    "application_fee_amount": command.application_fee_cents,
                    "pending_invoice_items_behavior": "exclude",
                    "metadata": command.metadata,
                },
                options={
                    "stripe_account": command.account_id,
                    "idempotency_key": f"invoicing:invoice:{command.command_id}",
                },
            )
        )
        assert invoice.id is not None
        try:
            await _call(
                self.client.v1.invoice_items.create_async(
                    params={
                        "customer": command.customer_id,
                        "invoice": invoice.id,
                        "amount": command.amount_cents,
                        "currency": command.currency,
                        "description": command.description,
                        "metadata": command.metadata,
                    },
                    options={
                        "stripe_account": command.account_id,
                        "idempotency_key": f"invoicing:invoice-item:{command.command_id}",
                    },
                )
            )
            await _call(self.client.v1.invoices.finalize_invoice_async(invoice.id, options=options))
            sent = await _call(
                self.client.v1.invoices.send_invoice_async(invoice.id, options=options)
            )
        except Exception:
            await self._discard_quietly(command.account_id, invoice.id)
            raise
        return sent.to_dict()

    async def _discard_quietly(self, account_id: str, invoice_id: str) -> None:
        options: Any = {"stripe_account": account_id}
        try:
            current = await self.client.v1.invoices.retrieve_async(invoice_id, options=options)
            if current.status == "draft":
                await self.client.v1.invoices.delete_async(invoice_id, options=options)
            elif current.status == "open":
                await self.client.v1.invoices.void_invoice_async(invoice_id, options=options)
        except stripe.StripeError as exc:
            log.error(
                "could not discard a half-made one-off invoice",
                stripe_invoice_id=invoice_id,
                error=repr(exc),
            )

    async def invoice(self, account_id: str, invoice_id: str) -> dict[str, Any] | None:
        """The invoice as Stripe has it now; None when Stripe has no such invoice."""
        try:
            found = await self.client.v1.invoices.retrieve_async(
                invoice_id, options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            if _is_missing(exc):
                return None
            raise
        return found.to_dict()

    async def invoice_of_payment_intent(
        self, account_id: str, payment_intent_id: str
    ) -> str | None:
        """The invoice a payment intent pays (charges no longer name their invoice)."""
        try:
            payments = await self.client.v1.invoice_payments.list_async(
                params={"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}},
                options={"stripe_account": account_id},
            )
        except stripe.StripeError as exc:
            if _is_missing(exc):
                return None
            raise
        for payment in payments.data:
            return str(payment.invoice)
        return None

    async def subscription(self, account_id: str, subscription_id: str) -> dict[str, Any] | None:
        try:
            found = await self.client.v1.subscriptions.retrieve_async(
                subscription_id, options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            if _is_missing(exc):
                return None
            raise
        return found.to_dict()

    async def customer_portal_url(self, account_id: str, customer_id: str, return_url: str) -> str:
        session = await _call(
            self.client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url},
                options={"stripe_account": account_id},
            )
        )
        return session.url
