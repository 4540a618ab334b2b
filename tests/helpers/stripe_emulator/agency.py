"""An agency (a connected account with a monthly price) billing its clients, for the tests."""

from __future__ import annotations

from typing import Unpack

import stripe
from stripe.params import SubscriptionCreateParams

from tests.helpers.stripe_emulator.emulator import Emulator, onboarded_account


class Agency:
    """A connected account with a monthly price, ready to bill customers."""

    def __init__(self, client: stripe.StripeClient, emulator: Emulator) -> None:
        self.v1 = client.v1
        self.id = onboarded_account(client, emulator)
        self.opts: stripe.RequestOptions = {"stripe_account": self.id}
        product = self.v1.products.create(params={"name": "Retainer"}, options=self.opts)
        self.price = self.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 10_000,
                "recurring": {"interval": "month"},
            },
            options=self.opts,
        )

    def customer(self, card: str | None = None) -> stripe.Customer:
        customer = self.v1.customers.create(params={"email": "c@example.com"}, options=self.opts)
        if card is not None:
            pm = self.v1.payment_methods.attach(
                card, params={"customer": customer.id}, options=self.opts
            )
            self.v1.customers.update(
                customer.id,
                params={"invoice_settings": {"default_payment_method": pm.id}},
                options=self.opts,
            )
        return customer

    def subscribe(
        self, customer: stripe.Customer, /, **extra: Unpack[SubscriptionCreateParams]
    ) -> stripe.Subscription:
        params: SubscriptionCreateParams = {
            "customer": customer.id,
            "items": [{"price": self.price.id}],
            **extra,
        }
        return self.v1.subscriptions.create(params=params, options=self.opts)

    def invoices(self, sub: stripe.Subscription) -> list[stripe.Invoice]:
        return self.v1.invoices.list(params={"subscription": sub.id}, options=self.opts).data

    def sub(self, sub: stripe.Subscription) -> stripe.Subscription:
        return self.v1.subscriptions.retrieve(sub.id, options=self.opts)

    def another_price(self, unit_amount: int, interval: str = "month") -> stripe.Price:
        return self.v1.prices.create(
            params={
                "product": str(self.price.product),
                "currency": "usd",
                "unit_amount": unit_amount,
                "recurring": {"interval": interval},
            },
            options=self.opts,
        )

    def events(self, type_: str) -> list[stripe.Event]:
        return self.v1.events.list(params={"type": type_}, options=self.opts).data
