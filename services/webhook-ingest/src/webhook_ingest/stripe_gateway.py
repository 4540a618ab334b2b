"""webhook-ingest's reads from Stripe: what an event lacks before it is published (balance
transaction figures, which invoice a payment paid and whose it is, a fee refund's movements
on the paying account, an invoice's payment failure), and the event list that replay walks.

Every read names objects by id and asks what Stripe keeps once it happened, so reading again
gives the same answer. A Stripe outage raises ``UnavailableError``: the enricher tries again
later; Stripe refusing a read (an object gone) leaves that part empty instead.

Since the answers do not change, each worker keeps the last ``REMEMBERED`` of them (a
balance transaction by its id or its charge's, a charge's payment intent and metadata, the
invoice a payment intent paid): a payment's events (``charge.succeeded``,
``payment_intent.succeeded``, ``invoice_payment.paid`` …) ask for the same objects, and a
read from Stripe costs far more CPU than the rest of an event's way through the service
(60 % of webhook-ingest's samples before, ``bench/profile_pipeline.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import stripe
import structlog
from cachetools import LRUCache

from billing_contracts.billing_invoices import InvoicePaymentFailure
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_contracts.billing_subscriptions import StripeSubscriptionState
from billing_kit.errors import UnavailableError
from billing_kit.stripe_client import stripe_failed
from webhook_ingest.rules.normalize import FiguresLookup
from webhook_ingest.rules.snapshots import figures_from_balance_transaction, id_of, metadata_of

log = structlog.get_logger(__name__)


def _options(account: str | None) -> Any:
    return {"stripe_account": account} if account else {}


def _as_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, stripe.StripeObject):
        return value.to_dict(for_json=True)
    return dict(value) if isinstance(value, Mapping) else None


def _merged_metadata(invoice: Mapping[str, Any]) -> dict[str, str]:
    """An invoice's metadata over its subscription's (where our services put the tenant)."""
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return {**metadata_of(parent.get("metadata")), **metadata_of(invoice.get("metadata"))}


def _subscription_of(invoice: Mapping[str, Any]) -> str | None:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return id_of(parent.get("subscription")) or id_of(invoice.get("subscription"))


REMEMBERED = 20_000
"""How many answers of each kind a worker keeps (a few MB)."""


class IngestStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client
        self.transactions: LRUCache[tuple[str | None, str], dict[str, Any]] = LRUCache(REMEMBERED)
        """Balance transactions by (account, charge or balance transaction id)."""
        self.charges: LRUCache[tuple[str | None, str], dict[str, Any]] = LRUCache(REMEMBERED)
        self.invoices_paid: LRUCache[tuple[str | None, str], dict[str, Any]] = LRUCache(REMEMBERED)
        """The invoice a payment intent paid, by (account, payment intent), once found."""

    async def read(self, lookup: FiguresLookup) -> dict[str, Any]:
        """The payload fields ``lookup`` asks for, as Stripe has them."""
        found: dict[str, Any] = {}
        try:
            if lookup.reads_figures:
                found["figures"] = await self.figures(lookup)
            if lookup.failure_balance_transaction_id is not None:
                found["failure_figures"] = await self.failure_figures(lookup)
            if lookup.attributes:
                found["attribution"] = await self.attribution(lookup)
            if lookup.fee_refunds_of is not None and lookup.account is not None:
                found["refund_balance_transactions"] = await self.fee_refund_transactions(
                    lookup.fee_refunds_of, lookup.account
                )
            if lookup.failure_of_invoice is not None:
                code = await self.failure_code(lookup.failure_of_invoice)
                found["payment_failure"] = InvoicePaymentFailure(code=code)
            if lookup.transactions_of_payout is not None and lookup.account is not None:
                found["balance_transactions"] = await self.payout_transactions(
                    lookup.transactions_of_payout, lookup.account
                )
            if lookup.state_of_subscription is not None:
                found["stripe_state"] = await self.subscription_state(
                    lookup.state_of_subscription, lookup.account
                )
        except stripe.StripeError as exc:
            if isinstance(exc, stripe.InvalidRequestError | stripe.PermissionError):
                log.warning("not readable on Stripe", lookup=repr(lookup), error=str(exc))
                return found
            raise UnavailableError("Stripe is unavailable; deliver this event again.") from exc
        return found

    async def attribution(self, lookup: FiguresLookup) -> PaymentAttribution:
        """Which invoice the payment paid (``/v1/invoice_payments``) and whose it is: the
        invoice's tenant metadata, else the charge's (or payment intent's)."""
        options = _options(lookup.account)
        charge_id, intent = lookup.attribute_charge, lookup.attribute_payment_intent
        metadata = lookup.known_metadata
        if charge_id is not None and (metadata is None or intent is None):
            found = self.charges.get((lookup.account, charge_id))
            if found is None:
                charge = await self.client.v1.charges.retrieve_async(charge_id, options=options)
                found = self.charges[lookup.account, charge_id] = charge.to_dict(for_json=True)
            intent = intent or id_of(found.get("payment_intent"))
            metadata = metadata_of(found.get("metadata")) if metadata is None else metadata
        metadata = metadata or {}
        invoice = await self._invoice_paid_by(lookup.account, intent) if intent else {}
        tenant = _merged_metadata(invoice)
        return PaymentAttribution(
            charge_id=charge_id,
            payment_intent_id=intent,
            invoice_id=id_of(invoice.get("id")),
            subscription_id=_subscription_of(invoice) if invoice else None,
            invoice_created=invoice.get("created") if invoice else None,
            agency_id=tenant.get("agency_id") or metadata.get("agency_id"),
            workspace_id=tenant.get("workspace_id") or metadata.get("workspace_id"),
        )

    async def _invoice_paid_by(self, account: str | None, intent: str) -> dict[str, Any]:
        """The invoice the payment intent paid (empty when none is known yet)."""
        known = self.invoices_paid.get((account, intent))
        if known is not None:
            return known
        options = _options(account)
        payments = await self.client.v1.invoice_payments.list_async(
            params={"payment": {"type": "payment_intent", "payment_intent": intent}},
            options=options,
        )
        # The one payment of an invoice a payment intent makes (the oldest, if Stripe ever
        # lists more): the same answer however often it is read.
        paid = sorted(payments.data, key=lambda p: (p.created or 0, p.id or ""))
        invoice_id = id_of(paid[0].to_dict(for_json=True).get("invoice")) if paid else None
        if invoice_id is None:
            return {}  # not yet: asked again next time
        read = await self.client.v1.invoices.retrieve_async(invoice_id, options=options)
        invoice = self.invoices_paid[account, intent] = read.to_dict(for_json=True)
        return invoice

    async def subscription_state(
        self, subscription_id: str, account: str | None
    ) -> StripeSubscriptionState:
        """The subscription's status and latest invoice as Stripe has them now."""
        found = await self.client.v1.subscriptions.retrieve_async(
            subscription_id, params={"expand": ["latest_invoice"]}, options=_options(account)
        )
        invoice = found.to_dict(for_json=True).get("latest_invoice")
        expanded = invoice if isinstance(invoice, Mapping) else {}
        return StripeSubscriptionState(
            status=str(found.status),
            latest_invoice_id=id_of(invoice),
            latest_invoice_status=expanded.get("status"),
            latest_invoice_amount_due=expanded.get("amount_due"),
        )

    async def fee_refund_transactions(self, fee_id: str, account: str) -> list[BalanceFigures]:
        """The paying account's balance transactions of every refund of a platform fee, in
        the order Stripe made them."""
        refunds = await self.client.v1.application_fees.refunds.list_async(
            fee_id, params={"limit": 100}
        )
        found: list[BalanceFigures] = []
        async for refund in refunds.auto_paging_iter():
            page = await self.client.v1.balance_transactions.list_async(
                params={"source": refund.id, "limit": 100}, options=_options(account)
            )
            found.extend(
                figures_from_balance_transaction(t.to_dict(for_json=True)) for t in page.data
            )
        return sorted(found, key=lambda f: (f.created or 0, f.balance_transaction_id))

    async def payout_transactions(self, payout_id: str, account: str) -> list[BalanceFigures]:
        """The balance transactions an automatic payout settled, oldest first, without the
        payout's own (their ``net`` adds up to the payout's ``amount``)."""
        page = await self.client.v1.balance_transactions.list_async(
            params={"payout": payout_id, "limit": 100}, options=_options(account)
        )
        found = [
            figures_from_balance_transaction(t.to_dict(for_json=True))
            async for t in page.auto_paging_iter()
            if not (t.type == "payout" and id_of(t.source) == payout_id)
        ]
        return sorted(found, key=lambda f: (f.created or 0, f.balance_transaction_id))

    async def failure_code(self, invoice_id: str) -> str | None:
        """Why a platform invoice's last payment attempt failed, from its payment intent."""
        payments = await self.client.v1.invoice_payments.list_async(params={"invoice": invoice_id})
        for payment in payments.data:
            intent = id_of(payment.to_dict(for_json=True).get("payment", {}).get("payment_intent"))
            if intent is None:
                continue
            found = await self.client.v1.payment_intents.retrieve_async(intent)
            error = found.last_payment_error
            if error is not None and error.code:
                return str(error.code)
        return None

    async def figures(self, lookup: FiguresLookup) -> BalanceFigures | None:
        """The balance transaction's figures; None when Stripe says there are none.

        A Stripe outage raises ``UnavailableError``: the enricher tries again later."""
        key = lookup.charge_id or lookup.balance_transaction_id
        if key is None:
            return None
        found = self.transactions.get((lookup.account, key))
        if found is None:
            try:
                found = await self._balance_transaction(lookup)
            except stripe.InvalidRequestError as exc:
                log.warning("balance transaction not readable", lookup=repr(lookup), error=str(exc))
                return None
            except stripe.StripeError as exc:
                raise UnavailableError("Stripe is unavailable; deliver this event again.") from exc
            if found is None:
                return None
            self.transactions[lookup.account, key] = found
        return figures_from_balance_transaction(found)

    async def _balance_transaction(self, lookup: FiguresLookup) -> dict[str, Any] | None:
        """The charge's balance transaction, else the one named."""
        txn: Any
        options = _options(lookup.account)
        if lookup.charge_id is not None:
            charge = await self.client.v1.charges.retrieve_async(
                lookup.charge_id, params={"expand": ["balance_transaction"]}, options=options
            )
            txn = charge.balance_transaction
            if isinstance(txn, str):
                txn = await self.client.v1.balance_transactions.retrieve_async(txn, options=options)
        else:
            assert lookup.balance_transaction_id is not None
            txn = await self.client.v1.balance_transactions.retrieve_async(
                lookup.balance_transaction_id, options=options
            )
        return _as_dict(txn) or None

    async def failure_figures(self, lookup: FiguresLookup) -> BalanceFigures | None:
        """A failed refund's ``refund_failure`` figures (None for any other lookup)."""
        if lookup.failure_balance_transaction_id is None:
            return None
        return await self.figures(
            FiguresLookup(lookup.account, lookup.failure_balance_transaction_id)
        )

    async def events(
        self, start: int, end: int, account: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event created in ``[start, end]`` on the platform or on ``account``; nothing
        for an account we may no longer read (deauthorized or deleted)."""
        try:
            page = await self.client.v1.events.list_async(
                params={"created": {"gte": start, "lte": end}, "limit": 100},
                options=_options(account),
            )
            async for event in page.auto_paging_iter():
                found = event.to_dict(for_json=True)
                if account is not None:
                    found.setdefault("account", account)
                yield found
        except stripe.PermissionError as exc:
            log.warning("events of this account are not readable", account=account, error=str(exc))
        except stripe.StripeError as exc:
            raise stripe_failed(exc) from exc
