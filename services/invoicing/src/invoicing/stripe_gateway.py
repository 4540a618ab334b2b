"""invoicing's calls to Stripe, always on the agency's connected account (``Stripe-Account``).

Every create carries an idempotency key derived from our own ids, so a retry (ours or the
SDK's) never makes a second invoice or line.

Stripe objects read from the API become the same snapshots webhook events carry
(``invoice_snapshot_from_stripe``, ``subscription_snapshot_from_stripe``), so a gap filled
from Stripe merges through the same rules as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe
import structlog
from stripe import RequestOptions

from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.billing_subscriptions import (
    StripeSubscriptionItem,
    StripeSubscriptionSnapshot,
)
from billing_kit.stripe_client import account_gone, call_stripe

log = structlog.get_logger(__name__)

DAYS_UNTIL_DUE = 30
"""How long the client has to pay a one-off invoice before Stripe marks it overdue."""


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


def _one_off_of(found: stripe.StripeObject) -> str | None:
    """The one-off command an invoice or invoice item belongs to (its metadata says)."""
    metadata = found.to_dict().get("metadata") or {}
    one_off_id = metadata.get("one_off_id")
    return None if one_off_id is None else str(one_off_id)


class InvoicingStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def issue_one_off(self, command: OneOffInvoice) -> dict[str, Any]:
        """Draft, line, finalize, send: an open invoice Stripe has emailed. Every step may run
        again for the same command (after a crash, or by the sweeper): the creates replay
        under the command's keys, and an invoice already finalized is not finalized again.
        On failure nothing is undone here: the caller withdraws the command."""
        options: RequestOptions = {"stripe_account": command.account_id}
        invoice = await call_stripe(
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
        await call_stripe(
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
        current = await call_stripe(
            self.client.v1.invoices.retrieve_async(invoice.id, options=options)
        )
        if current.status == "draft":
            await call_stripe(
                self.client.v1.invoices.finalize_invoice_async(
                    invoice.id,
                    options={
                        **options,
                        "idempotency_key": f"invoicing:invoice-finalize:{command.command_id}",
                    },
                )
            )
        elif current.status != "open":
            return current.to_dict()  # paid or voided since an earlier run issued it
        # Sent once under the command's key: an earlier run that finalized but crashed before
        # sending sends now; one that sent gets Stripe's first answer again.
        sent = await call_stripe(
            self.client.v1.invoices.send_invoice_async(
                invoice.id,
                options={
                    **options,
                    "idempotency_key": f"invoicing:invoice-send:{command.command_id}",
                },
            )
        )
        return sent.to_dict()

    async def withdraw_one_off(self, account_id: str, customer_id: str, one_off_id: str) -> None:
        """Remove what a one-off invoice that did not complete made on the customer: its
        invoice items (so no pending item is billed by the customer's next invoice), its
        draft (deleted) or its invoice already finalized (voided). Found by the command's id
        in their metadata, so it works whichever step the command reached; raises when
        Stripe cannot be reached (the sweeper tries again)."""
        options: Any = {"stripe_account": account_id}

        async def made() -> tuple[list[stripe.Invoice], list[stripe.InvoiceItem]]:
            invoices = await self.client.v1.invoices.list_async(
                params={"customer": customer_id, "limit": 100}, options=options
            )
            ours = [i async for i in invoices.auto_paging_iter() if _one_off_of(i) == one_off_id]
            pending = await self.client.v1.invoice_items.list_async(
                params={"customer": customer_id, "pending": True, "limit": 100}, options=options
            )
            items = [i async for i in pending.auto_paging_iter() if _one_off_of(i) == one_off_id]
            for invoice in ours:
                lines = await self.client.v1.invoice_items.list_async(
                    params={"invoice": invoice.id, "limit": 100}, options=options
                )
                items += [i async for i in lines.auto_paging_iter()]
            return ours, items

        objects = await call_stripe(made(), none_when=account_gone)
        if objects is None:
            return  # the account is gone, and with it what the command made
        ours, items = objects
        drafts = {i.id for i in ours if i.status == "draft"}
        for item in items:
            if item.invoice is None or item.invoice in drafts:
                await call_stripe(
                    self.client.v1.invoice_items.delete_async(item.id, options=options)
                )
        for found in ours:
            assert found.id is not None
            if found.status == "draft":
                await call_stripe(self.client.v1.invoices.delete_async(found.id, options=options))
            elif found.status == "open":
                await call_stripe(
                    self.client.v1.invoices.void_invoice_async(found.id, options=options)
                )
        log.info("one-off invoice withdrawn", one_off_id=one_off_id, invoices=len(ours))

    async def invoice(self, account_id: str, invoice_id: str) -> dict[str, Any] | None:
        """The invoice as Stripe has it now; None when Stripe has no such invoice."""
        found = await call_stripe(
            self.client.v1.invoices.retrieve_async(
                invoice_id, options={"stripe_account": account_id}
            ),
            none_when=_is_missing,
            as_failure=False,
        )
        return None if found is None else found.to_dict()

    async def invoice_of_payment_intent(
        self, account_id: str, payment_intent_id: str
    ) -> str | None:
        """The invoice a payment intent pays (charges no longer name their invoice)."""
        payments = await call_stripe(
            self.client.v1.invoice_payments.list_async(
                params={"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}},
                options={"stripe_account": account_id},
            ),
            none_when=_is_missing,
            as_failure=False,
        )
        for payment in payments.data if payments is not None else ():
            return str(payment.invoice)
        return None

    async def subscription(self, account_id: str, subscription_id: str) -> dict[str, Any] | None:
        found = await call_stripe(
            self.client.v1.subscriptions.retrieve_async(
                subscription_id, options={"stripe_account": account_id}
            ),
            none_when=_is_missing,
            as_failure=False,
        )
        return None if found is None else found.to_dict()

    async def customer_portal_url(self, account_id: str, customer_id: str, return_url: str) -> str:
        session = await call_stripe(
            self.client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url},
                options={"stripe_account": account_id},
            )
        )
        return session.url


def stripe_metadata(obj: dict[str, Any]) -> dict[str, str]:
    """An object's metadata; a subscription invoice also inherits its subscription's."""
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    inherited = {str(k): str(v) for k, v in (parent.get("metadata") or {}).items()}
    return {**inherited, **{str(k): str(v) for k, v in (obj.get("metadata") or {}).items()}}


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    found = parent.get("subscription") or invoice.get("subscription")
    return str(found) if found else None


def invoice_snapshot_from_stripe(
    invoice: dict[str, Any], *, account: str, seen_at: int
) -> StripeInvoiceSnapshot:
    """``seen_at``: the ``created`` of the event that made us ask; Stripe's answer is at
    least that new."""
    transitions = invoice.get("status_transitions") or {}
    error = invoice.get("last_finalization_error") or {}
    return StripeInvoiceSnapshot(
        stripe_event_id=f"api:{invoice['id']}",
        stripe_created=seen_at,
        stripe_account_id=account,
        metadata=stripe_metadata(invoice),
        invoice_id=invoice["id"],
        status=invoice.get("status"),
        customer_id=invoice.get("customer"),
        subscription_id=_subscription_of(invoice),
        description=invoice.get("description"),
        currency=invoice.get("currency") or "usd",
        amount_due=int(invoice.get("amount_due") or 0),
        amount_paid=int(invoice.get("amount_paid") or 0),
        amount_remaining=int(invoice.get("amount_remaining") or 0),
        subtotal=invoice.get("subtotal"),
        hosted_invoice_url=invoice.get("hosted_invoice_url"),
        attempt_count=invoice.get("attempt_count"),
        created=invoice.get("created"),
        paid_at=transitions.get("paid_at"),
        last_payment_error_message=error.get("message"),
    )


def subscription_snapshot_from_stripe(
    subscription: dict[str, Any], *, account: str, seen_at: int
) -> StripeSubscriptionSnapshot:
    items = [
        StripeSubscriptionItem(
            item_id=item["id"],
            price_id=(item.get("price") or {}).get("id"),
            product_id=(item.get("price") or {}).get("product"),
            quantity=item.get("quantity"),
            unit_amount=(item.get("price") or {}).get("unit_amount"),
            current_period_end=item.get("current_period_end"),
        )
        for item in (subscription.get("items") or {}).get("data") or ()
    ]
    return StripeSubscriptionSnapshot(
        stripe_event_id=f"api:{subscription['id']}",
        stripe_created=seen_at,
        stripe_account_id=account,
        metadata=stripe_metadata(subscription),
        subscription_id=subscription["id"],
        customer_id=subscription.get("customer"),
        status=subscription["status"],
        currency=subscription.get("currency"),
        application_fee_percent=subscription.get("application_fee_percent"),
        current_period_end=items[0].current_period_end if items else None,
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        items=items,
    )
