"""What invoicing's rules need of the world, as the rules use it: its queries and rows
(``invoicing.repository.InvoicingRepository``; a batch's, ``invoicing.repository.batch``), Stripe
(``invoicing.stripe_gateway.InvoicingStripe``), the outbox and the pending records (the kit's
``Outbox`` and ``PendingCommands``).

``Mirror.build`` and ``Invoicing.build`` wire the real objects; the fast tests wire fakes that
keep their state in memory (``tests/helpers/invoicing/fakes.py``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from invoicing.models import Agency, Invoice, Payment, Product, Refund, Subscription
from invoicing.stripe_gateway import OneOffInvoice


class MirrorRepository(Protocol):
    """The mirror's queries of one transaction (``invoicing.repository`` documents each);
    an ``ensure_*`` row is inserted on first sight and locked for the transaction."""

    async def flush(self) -> None:
        """Write what changed so far (the edge commits it)."""

    async def agency_of_account(self, account_id: str) -> str | None: ...

    async def invoice(
        self, stripe_invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None: ...

    async def ensure_invoice(self, values: dict[str, Any]) -> Invoice: ...

    async def open_invoices_of_subscription(self, stripe_subscription_id: str) -> Sequence[str]:
        """The ids of the subscription's open invoices, in key order."""

    async def payments_of(self, stripe_invoice_ids: Sequence[str]) -> Sequence[Payment]:
        """The payments of these invoices, by payment intent id."""

    async def ensure_payment(self, payment_intent_id: str, account: str | None) -> Payment: ...

    async def payment_by_charge(self, charge_id: str) -> Payment | None: ...

    async def subscription(self, stripe_subscription_id: str) -> Subscription | None: ...

    async def ensure_subscription(
        self, stripe_subscription_id: str, status: str
    ) -> Subscription: ...

    async def workspace_of_customer(
        self, account_id: str | None, customer_id: str | None
    ) -> str | None: ...

    async def remember_refund(
        self, refund_id: str, payment_intent_id: str, amount: int, *, failed: bool
    ) -> None: ...

    async def refunds_of(self, payment_intent_id: str) -> Sequence[Refund]: ...


class MirrorBatchRepository(Protocol):
    """The mirror's queries for a batch of events (``invoicing.repository.batch``): rows
    read or locked together, each in key order and as loaded, in no session (what a batch
    changes is written by the ``save_*`` queries, one statement a table); first sights
    inserted together; and the few queries a batch still asks per event."""

    async def agency_of_account(self, account_id: str) -> str | None: ...

    async def workspace_of_customer(
        self, account_id: str | None, customer_id: str | None
    ) -> str | None: ...

    async def open_invoices_of_subscription(self, stripe_subscription_id: str) -> Sequence[str]:
        """The ids of the subscription's open invoices, in key order."""

    async def insert_invoices(self, first_sights: Sequence[dict[str, Any]]) -> set[str]:
        """Insert each invoice not there yet; the Stripe ids of those inserted."""

    async def invoices_locked(self, stripe_invoice_ids: Collection[str]) -> dict[str, Invoice]:
        """Those of the invoices that exist, locked, by Stripe id."""

    async def insert_payments(self, first_sights: Mapping[str, str | None]) -> set[str]:
        """Insert each payment (payment intent → account) not there yet; the payment intents
        of those inserted."""

    async def payments_locked(
        self, payment_intent_ids: Collection[str], charge_ids: Collection[str] = ()
    ) -> dict[str, Payment]:
        """The payments of these payment intents or charges, locked, by payment intent."""

    async def payments_of_invoices(self, stripe_invoice_ids: Collection[str]) -> list[Payment]:
        """The payments of these invoices, unlocked."""

    async def insert_subscriptions(self, first_sights: Mapping[str, str]) -> set[str]:
        """Insert each subscription (id → status) not there yet; the ids of those inserted."""

    async def subscriptions_of(
        self, stripe_subscription_ids: Collection[str], *, for_update: bool = False
    ) -> dict[str, Subscription]: ...

    async def refunds_of_payments(self, payment_intent_ids: Collection[str]) -> list[Refund]: ...

    async def save_invoices(self, rows: Sequence[Invoice]) -> None: ...

    async def save_payments(self, rows: Sequence[Payment]) -> None: ...

    async def save_subscriptions(self, rows: Sequence[Subscription]) -> None: ...

    async def save_refunds(self, rows: Sequence[Refund]) -> None:
        """Keep each refund; a failure, once told, stays."""


class Repository(MirrorRepository, Protocol):
    """Every query of ``Invoicing``: the mirror's (it mirrors what it issues) and the
    portal's."""

    async def agency(self, agency_id: str) -> Agency | None: ...

    async def workspace_invoices(
        self, agency_id: str, workspace_id: str, *, outstanding: bool = False
    ) -> Sequence[Invoice]:
        """The workspace's invoices past draft (``outstanding``: the open ones), newest first."""

    async def workspace_subscriptions(
        self, agency_id: str, workspace_id: str, statuses: Sequence[str]
    ) -> Sequence[Subscription]: ...

    async def workspace_held_by_another_agency(self, agency_id: str, workspace_id: str) -> bool: ...

    async def workspace_customer(
        self, agency_id: str, workspace_id: str
    ) -> tuple[str, str] | None: ...

    async def products_billed(
        self, subscriptions: Sequence[Subscription]
    ) -> dict[str, Product]: ...


class MirrorStripe(Protocol):
    """What the mirror asks of Stripe to fill a gap (``InvoicingStripe`` documents each):
    None when Stripe has no such object; a Stripe error raised as Stripe's, to be waited out."""

    async def invoice(self, account_id: str, invoice_id: str) -> dict[str, Any] | None: ...

    async def invoice_of_payment_intent(
        self, account_id: str, payment_intent_id: str
    ) -> str | None: ...

    async def subscription(
        self, account_id: str, subscription_id: str
    ) -> dict[str, Any] | None: ...


class StripeGateway(MirrorStripe, Protocol):
    """Every Stripe call of ``Invoicing``: the mirror's, one-off invoices and the portal."""

    async def issue_one_off(self, command: OneOffInvoice) -> dict[str, Any]: ...

    async def withdraw_one_off(
        self, account_id: str, customer_id: str, one_off_id: str
    ) -> None: ...

    async def customer_portal_url(
        self, account_id: str, customer_id: str, return_url: str
    ) -> str: ...
