"""subscriptions' calls to Stripe, all on the agency's connected account: the workspace's
customer and its subscriptions.

Every create carries an idempotency key derived from our own ids (agency + workspace for the
customer, our subscription id for a subscription), so a retry or a race can never make a
second object.

Subscriptions start on payment terms: ``collection_method=send_invoice`` with
``days_until_due`` (the workspace's terms, else 30). Stripe makes them ``active`` at once and
finalizes the first invoice with its hosted page and emails it (``invoice.sent``); the
client may pay it any time before it is due, and a subscription never expires for an invoice
opened yesterday (a ``charge_automatically`` one with ``default_incomplete`` would end
``incomplete_expired`` after 23 hours). Each renewal is emailed the same way with Pay now;
past its due date Stripe sends ``invoice.overdue`` and the subscription goes ``past_due``.
Once the client pays with a payment method Stripe keeps on the customer (a card or a bank
debit), the subscription is switched to ``charge_automatically`` with that payment method as
the customer's default for invoices (``save_autopay``; unless the client already chose one,
so a card changed later in the customer portal is the one charged): renewals are charged on
their own, and a decline puts it ``past_due`` under Stripe's dunning (retries, then the
platform's setting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from billing_kit.money import PLATFORM_FEE_PERCENT
from billing_kit.stripe_client import account_gone, call_stripe, latest_invoice, stripe_failed
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES

REUSABLE_PAYMENT_METHOD_TYPES = frozenset({"card", "us_bank_account", "sepa_debit", "bacs_debit"})
"""Payment methods a subscription may charge on its own once the client has paid with one."""


CADENCE_INTERVALS = {"monthly": "month", "yearly": "year"}


@dataclass(frozen=True)
class StripeSubscriptionFacts:
    subscription_id: str
    status: str
    created: int
    latest_invoice_id: str | None
    latest_invoice_status: str | None
    hosted_invoice_url: str | None
    latest_invoice_created: int = 0
    price_id: str | None = None
    current_period_end: int | None = None


def customer_idempotency_key(agency_id: str, workspace_id: str) -> str:
    return f"subscriptions:customer:{agency_id}:{workspace_id}"


def _id_of(value: Any) -> str:
    """The id of an expandable field, expanded or not."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value["id"])
    return str(value.id)


def _first_item(sub: stripe.Subscription) -> dict[str, Any]:
    items = (sub.to_dict().get("items") or {}).get("data") or []
    return dict(items[0]) if items else {}


def _facts(sub: stripe.Subscription) -> StripeSubscriptionFacts:
    invoice_id, expanded = latest_invoice(sub)
    item = _first_item(sub)
    price = item.get("price")
    return StripeSubscriptionFacts(
        subscription_id=sub.id,
        status=sub.status,
        created=sub.created,
        latest_invoice_id=invoice_id,
        latest_invoice_status=expanded.status if expanded else None,
        hosted_invoice_url=expanded.hosted_invoice_url if expanded else None,
        latest_invoice_created=expanded.created if expanded else 0,
        price_id=(price or {}).get("id") if isinstance(price, dict) else price,
        current_period_end=item.get("current_period_end"),
    )


class SubscriptionsStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_customer(
        self, *, account_id: str, agency_id: str, workspace_id: str, name: str, email: str | None
    ) -> str:
        params: dict[str, Any] = {
            "name": name,
            "metadata": {"agency_id": agency_id, "workspace_id": workspace_id},
        }
        if email:
            params["email"] = email
        customer = await call_stripe(
            self.client.v1.customers.create_async(
                params=params,  # type: ignore[arg-type]
                options={
                    "stripe_account": account_id,
                    "idempotency_key": customer_idempotency_key(agency_id, workspace_id),
                },
            )
        )
        return customer.id

    async def update_customer_email(
        self, account_id: str, customer_id: str, email: str | None
    ) -> None:
        await call_stripe(
            self.client.v1.customers.update_async(
                customer_id,
                params={"email": email or ""},
                options={"stripe_account": account_id},
            )
        )

    async def create_subscription(
        self,
        *,
        account_id: str,
        customer_id: str,
        price_id: str,
        days_until_due: int,
        metadata: dict[str, str],
    ) -> StripeSubscriptionFacts:
        sub = await call_stripe(
            self.client.v1.subscriptions.create_async(
                params={
                    "customer": customer_id,
                    "items": [{"price": price_id}],
                    "application_fee_percent": float(PLATFORM_FEE_PERCENT),
                    "collection_method": "send_invoice",
                    "days_until_due": days_until_due,
                    "metadata": metadata,
                    "expand": ["latest_invoice"],
                },
                options={
                    "stripe_account": account_id,
                    "idempotency_key": f"subscriptions:subscription:{metadata['subscription_id']}",
                },
            )
        )
        return _facts(sub)

    async def reusable_payment_method(self, account_id: str, invoice_id: str) -> str | None:
        """The payment method that paid the invoice, when Stripe keeps it on the customer (a
        card or a bank debit saved for later); None for a payment made outside Stripe or a
        one-time method. Raises Stripe's own errors (the caller tells a refusal from an
        outage)."""
        payments = await self.client.v1.invoice_payments.list_async(
            params={"invoice": invoice_id}, options={"stripe_account": account_id}
        )
        for payment in payments.data:
            paid_with = payment.to_dict().get("payment") or {} if payment.status == "paid" else {}
            intent = paid_with.get("payment_intent")  # none for a payment outside Stripe
            intent_id = intent if isinstance(intent, str) else (intent or {}).get("id")
            if not intent_id:
                continue
            found = await self.client.v1.payment_intents.retrieve_async(
                intent_id,
                params={"expand": ["payment_method"]},
                options={"stripe_account": account_id},
            )
            method = found.payment_method
            if (
                isinstance(method, stripe.PaymentMethod)
                and method.customer
                and method.type in REUSABLE_PAYMENT_METHOD_TYPES
            ):
                return method.id
        return None

    async def save_autopay(
        self, account_id: str, customer_id: str, subscription_id: str, payment_method_id: str
    ) -> None:
        """Renewals from now on are charged automatically: ``payment_method_id`` becomes the
        customer's default for invoices unless the client already chose one (so a card the
        client changes later in the customer portal is the one charged), and the
        subscription collects with ``charge_automatically``. Raises Stripe's own errors."""
        options: stripe.RequestOptions = {"stripe_account": account_id}
        customer = await self.client.v1.customers.retrieve_async(customer_id, options=options)
        settings = customer.invoice_settings
        if settings is None or not settings.default_payment_method:
            await self.client.v1.customers.update_async(
                customer_id,
                params={"invoice_settings": {"default_payment_method": payment_method_id}},
                options={
                    **options,
                    "idempotency_key": f"subscriptions:autopay-customer:{subscription_id}:"
                    f"{payment_method_id}",
                },
            )
        await self.client.v1.subscriptions.update_async(
            subscription_id,
            params={"collection_method": "charge_automatically"},
            options={
                **options,
                "idempotency_key": f"subscriptions:autopay:{subscription_id}:{payment_method_id}",
            },
        )

    async def migrate_now(
        self, account_id: str, subscription_id: str, price_id: str, migration_id: str
    ) -> StripeSubscriptionFacts:
        """Bill ``price_id`` from now on, with Stripe's prorations on the next invoice (a
        change of billing interval restarts the cycle and invoices at once, as on Stripe). A
        change waiting for the renewal is dropped first. A subscription already on the price
        is left as it is, so running a migration again changes nothing more."""
        sub = await self._current(account_id, subscription_id)
        if sub.schedule:
            await self._release(account_id, _id_of(sub.schedule), migration_id)
        item = _first_item(sub)
        if _id_of(item.get("price")) == price_id:
            return _facts(sub)
        updated = await call_stripe(
            self.client.v1.subscriptions.update_async(
                subscription_id,
                params={
                    "items": [{"id": item["id"], "price": price_id}],
                    "proration_behavior": "create_prorations",
                    "expand": ["latest_invoice"],
                },
                options={
                    "stripe_account": account_id,
                    "idempotency_key": f"subscriptions:migrate:{migration_id}",
                },
            )
        )
        return _facts(updated)

    async def migrate_at_renewal(
        self,
        account_id: str,
        subscription_id: str,
        price_id: str,
        cadence: str,
        migration_id: str,
    ) -> StripeSubscriptionFacts:
        """Bill ``price_id`` from the next renewal on, without proration: a subscription
        schedule whose current phase keeps today's price to the end of the period and whose
        next phase (one period of the new price) then releases the subscription on it.
        Moving back to the price billed now drops the waiting change instead."""
        sub = await self._current(account_id, subscription_id)
        item = _first_item(sub)
        current_price = _id_of(item.get("price"))
        options: stripe.RequestOptions = {"stripe_account": account_id}
        if current_price == price_id:
            if sub.schedule:
                await self._release(account_id, _id_of(sub.schedule), migration_id)
            return _facts(sub)
        if sub.schedule:
            schedule = await call_stripe(
                self.client.v1.subscription_schedules.retrieve_async(
                    _id_of(sub.schedule), options=options
                )
            )
        else:
            schedule = await call_stripe(
                self.client.v1.subscription_schedules.create_async(
                    params={"from_subscription": subscription_id},
                    options={
                        **options,
                        "idempotency_key": f"subscriptions:migrate:{migration_id}:schedule",
                    },
                )
            )
        current_phase = schedule.current_phase
        starts = current_phase.start_date if current_phase else schedule.phases[0].start_date
        quantity = int(item.get("quantity") or 1)
        await call_stripe(
            self.client.v1.subscription_schedules.update_async(
                schedule.id,
                params={
                    "end_behavior": "release",
                    "phases": [
                        {
                            "items": [{"price": current_price, "quantity": quantity}],
                            "start_date": starts,
                            "end_date": int(item["current_period_end"]),
                        },
                        {
                            "items": [{"price": price_id, "quantity": quantity}],
                            "proration_behavior": "none",
                            "duration": {"interval": CADENCE_INTERVALS[cadence]},
                        },
                    ],
                },
                options={
                    **options,
                    "idempotency_key": f"subscriptions:migrate:{migration_id}:phases",
                },
            )
        )
        return _facts(sub)

    async def _current(self, account_id: str, subscription_id: str) -> stripe.Subscription:
        return await call_stripe(
            self.client.v1.subscriptions.retrieve_async(
                subscription_id,
                params={"expand": ["latest_invoice"]},
                options={"stripe_account": account_id},
            )
        )

    async def _release(self, account_id: str, schedule_id: str, migration_id: str) -> None:
        await call_stripe(
            self.client.v1.subscription_schedules.release_async(
                schedule_id,
                options={
                    "stripe_account": account_id,
                    "idempotency_key": f"subscriptions:migrate:{migration_id}:release",
                },
            )
        )

    async def withdraw_subscription(
        self, account_id: str, customer_id: str, subscription_id: str
    ) -> None:
        """Cancel whatever Stripe has of our subscription ``subscription_id`` on the customer
        (found by the id in its metadata, whichever step its command reached)."""

        async def made() -> list[stripe.Subscription]:
            listed = await self.client.v1.subscriptions.list_async(
                params={"customer": customer_id, "status": "all", "limit": 100},
                options={"stripe_account": account_id},
            )
            return [
                sub
                async for sub in listed.auto_paging_iter()
                if (sub.to_dict().get("metadata") or {}).get("subscription_id") == subscription_id
            ]

        ours = await call_stripe(made(), none_when=account_gone)
        if ours is None:
            return  # the account is gone, and with it what the command made
        for sub in ours:
            if sub.status not in SUBSCRIPTION_ENDED_STATUSES:
                await self.cancel_subscription(account_id, sub.id)

    async def retrieve_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts:
        return _facts(await self._current(account_id, subscription_id))

    async def cancel_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts:
        """Cancel now; a subscription Stripe already ended counts as canceled."""
        try:
            sub = await self.client.v1.subscriptions.cancel_async(
                subscription_id, options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            current = await self.retrieve_subscription(account_id, subscription_id)
            if current.status in SUBSCRIPTION_ENDED_STATUSES:
                return current
            raise stripe_failed(exc) from exc
        return _facts(sub)
