"""invoicing's calls to Stripe for the platform's SaaS fees: the platform's invoices charged
to agencies' Stripe balances, and the agencies' payout schedules and balances the manual
retry works with.

Every write carries an idempotency key derived from the retry's id and its step, so running
a step again after a crash repeats Stripe's first answer instead of acting twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

PAYOUT_SCHEDULE_FIELDS = ("interval", "delay_days", "weekly_anchor", "monthly_anchor")


@dataclass(frozen=True)
class PayAnswer:
    """How a pay attempt ended: ``paid``, ``insufficient_funds``, ``already_paid`` or
    ``refused`` (with Stripe's message)."""

    outcome: str
    message: str | None = None


def schedule_params(schedule: dict[str, Any]) -> dict[str, Any]:
    """The fields of a recorded schedule that ``settings[payouts][schedule]`` takes back."""
    interval = schedule.get("interval", "daily")
    params: dict[str, Any] = {"interval": interval}
    if schedule.get("delay_days") is not None:
        params["delay_days"] = schedule["delay_days"]
    if interval == "weekly" and schedule.get("weekly_anchor"):
        params["weekly_anchor"] = schedule["weekly_anchor"]
    if interval == "monthly" and schedule.get("monthly_anchor"):
        params["monthly_anchor"] = schedule["monthly_anchor"]
    return params


class CollectionsStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def failure_code(self, stripe_invoice_id: str) -> str | None:
        """Why the invoice's last payment attempt failed, from its payment intent (an
        invoice itself does not say)."""
        payments = await self.client.v1.invoice_payments.list_async(
            params={"invoice": stripe_invoice_id}
        )
        for payment in payments.data:
            intent = payment.payment.payment_intent
            intent_id = intent if isinstance(intent, str) else intent.id if intent else None
            if intent_id is None:
                continue
            found = await self.client.v1.payment_intents.retrieve_async(intent_id)
            error = found.last_payment_error
            if error is not None and error.code:
                return str(error.code)
        return None

    async def payout_schedule(self, account_id: str) -> dict[str, Any]:
        account = await self.client.v1.accounts.retrieve_async(account_id)
        settings = account.settings
        schedule = settings.payouts.schedule if settings and settings.payouts else None
        found = schedule.to_dict() if schedule is not None else {}
        return {key: found[key] for key in PAYOUT_SCHEDULE_FIELDS if found.get(key) is not None}

    async def set_payout_schedule(
        self, account_id: str, schedule: dict[str, Any], *, idempotency_key: str
    ) -> None:
        params: Any = {"settings": {"payouts": {"schedule": schedule_params(schedule)}}}
        await self.client.v1.accounts.update_async(
            account_id,
            params=params,
            options={"idempotency_key": idempotency_key},
        )

    async def available_cents(self, account_id: str, currency: str) -> int:
        balance = await self.client.v1.balance.retrieve_async(
            options={"stripe_account": account_id}
        )
        return sum(entry.amount for entry in balance.available if entry.currency == currency)

    async def subscription_payment_method(self, subscription_id: str) -> str | None:
        sub = await self.client.v1.subscriptions.retrieve_async(subscription_id)
        method = sub.default_payment_method
        return method if isinstance(method, str) else method.id if method else None

    async def invoice_status(self, stripe_invoice_id: str) -> str | None:
        return (await self.client.v1.invoices.retrieve_async(stripe_invoice_id)).status

    async def pay_invoice(
        self, stripe_invoice_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> PayAnswer:
        """One attempt to pay the invoice from the balance; network and 5xx errors raise
        (the step is run again with the same key)."""
        try:
            paid = await self.client.v1.invoices.pay_async(
                stripe_invoice_id,
                params={"payment_method": payment_method_id},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            if exc.code == "insufficient_funds":
                return PayAnswer("insufficient_funds", exc.user_message)
            return PayAnswer("refused", exc.user_message or str(exc))
        except stripe.InvalidRequestError as exc:
            if exc.code == "invoice_already_paid":
                return PayAnswer("already_paid")
            return PayAnswer("refused", exc.user_message or str(exc))
        return PayAnswer("paid" if paid.status == "paid" else "refused", paid.status)
