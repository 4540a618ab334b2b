"""webhook-ingest's reads from Stripe: what an event lacks before it is published (balance
transaction figures, which invoice a payment paid and whose it is, a fee refund's movements
on the paying account, an invoice's payment failure), and the event list that replay walks.

Every read names objects by id and asks what Stripe keeps once it happened, so reading again
gives the same answer. A Stripe outage raises ``UnavailableError``: the enricher tries again
later; Stripe refusing a read (an object gone) leaves that part empty instead.

Reads go through the SDK's ``raw_request_async`` (its retries, its errors, ``Stripe-Account``)
and answer plain dicts: what is needed of them, without building the SDK's typed objects and
turning them back into dicts.

Since the answers do not change, the enricher's worker keeps the last ``REMEMBERED`` of them
(a balance transaction by its id and by its charge's, what attribution needs of a charge, the
invoice a payment intent paid): a payment's events (``payment_intent.created``,
``charge.succeeded``, ``payment_intent.succeeded`` ...) ask for the same objects, and a read
from Stripe costs far more CPU than the rest of an event's way through the service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import stripe
import structlog
from cachetools import LRUCache

from billing_contracts.billing_invoices import InvoicePaymentFailure
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_contracts.billing_subscriptions import StripeSubscriptionState
from billing_kit.errors import UnavailableError
from billing_kit.stripe_client import stripe_failed
from webhook_ingest.rules.attribution import (
    InvoiceFacts,
    attribution,
    invoice_facts,
    oldest_payment,
)
from webhook_ingest.rules.normalize import FiguresLookup
from webhook_ingest.rules.snapshots import figures_from_balance_transaction, id_of, metadata_of

log = structlog.get_logger(__name__)

Found = Mapping[str, Any]

REMEMBERED = 20_000
"""How many answers of each kind a worker keeps (a few MB)."""

CHARGE_TRANSACTIONS = frozenset({"charge", "payment"})
"""Kinds of the balance transaction a charge made (its ``source`` is the charge)."""


def _path(*parts: str) -> str:
    return "/v1/" + "/".join(quote(part, safe="") for part in parts)


class IngestStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client
        self.transactions: LRUCache[tuple[str | None, str], Found] = LRUCache(REMEMBERED)
        """Balance transactions by (account, their id), and a charge's by (account, charge)."""
        self.charges: LRUCache[tuple[str | None, str], dict[str, Any]] = LRUCache(REMEMBERED)
        """A charge's payment intent and metadata, by (account, charge)."""
        self.invoices_paid: LRUCache[tuple[str | None, str], InvoiceFacts] = LRUCache(REMEMBERED)
        """The invoice a payment intent paid, by (account, payment intent), once found."""
        self.reads = 0
        """Reads made from Stripe (each answered or failed once, retries aside)."""

    async def _get(self, path: str, account: str | None, **params: Any) -> Found:
        """``GET path`` as Stripe answers it (on ``account`` when given)."""
        if account:
            params["stripe_account"] = account
        self.reads += 1
        response = await self.client.raw_request_async("get", path, **params)
        data = response.data
        assert isinstance(data, Mapping), path
        return data

    async def _listed(self, path: str, account: str | None, **params: Any) -> AsyncIterator[Found]:
        """Every object of a list, page after page."""
        while True:
            page = await self._get(path, account, **params)
            data = page.get("data") or []
            for found in data:
                yield found
            if not page.get("has_more") or not data:
                return
            params["starting_after"] = data[-1]["id"]

    async def read(
        self, lookup: FiguresLookup, paid_invoice: InvoiceFacts | None = None
    ) -> dict[str, Any]:
        """The payload fields ``lookup`` asks for, as Stripe has them; ``paid_invoice``: the
        invoice its payment intent paid when already known (then not read)."""
        found: dict[str, Any] = {}
        try:
            if lookup.reads_figures:
                found["figures"] = await self.figures(lookup)
            if lookup.failure_balance_transaction_id is not None:
                found["failure_figures"] = await self.failure_figures(lookup)
            if lookup.attributes:
                found["attribution"] = await self.attribution(lookup, paid_invoice)
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

    async def attribution(
        self, lookup: FiguresLookup, paid_invoice: InvoiceFacts | None = None
    ) -> PaymentAttribution:
        """Which invoice the payment paid (``/v1/invoice_payments``) and whose it is: the
        invoice's tenant metadata, else the charge's (or payment intent's)."""
        account = lookup.account
        charge_id, intent = lookup.attribute_charge, lookup.attribute_payment_intent
        metadata = lookup.known_metadata
        if charge_id is not None and (metadata is None or intent is None):
            charge = self.charges.get((account, charge_id))
            if charge is None:
                charge = self._remember_charge(
                    account, await self._get(_path("charges", charge_id), account)
                )
            intent = intent or charge["payment_intent"]
            metadata = charge["metadata"] if metadata is None else metadata
        if paid_invoice is not None and intent is not None:
            self.invoices_paid[account, intent] = paid_invoice
        elif intent is not None:
            paid_invoice = await self._invoice_paid_by(account, intent)
        return attribution(charge_id, intent, paid_invoice or {}, metadata or {})

    def _remember_charge(self, account: str | None, charge: Found) -> dict[str, Any]:
        kept = {
            "payment_intent": id_of(charge.get("payment_intent")),
            "metadata": metadata_of(charge.get("metadata")),
        }
        self.charges[account, str(charge["id"])] = kept
        return kept

    def knows_invoice_paid(self, account: str | None, intent: str) -> bool:
        """Whether the invoice the payment intent paid is known here already."""
        return (account, intent) in self.invoices_paid

    async def _invoice_paid_by(self, account: str | None, intent: str) -> InvoiceFacts:
        """The invoice the payment intent paid (empty when none is known yet), read with it
        expanded in the list of its invoice payments."""
        known = self.invoices_paid.get((account, intent))
        if known is not None:
            return known
        payments = await self._get(
            _path("invoice_payments"),
            account,
            payment={"type": "payment_intent", "payment_intent": intent},
            expand=["data.invoice"],
        )
        paid = oldest_payment(payments.get("data") or [])
        invoice = paid.get("invoice") if paid is not None else None
        if not isinstance(invoice, Mapping):
            return {}  # not yet: asked again next time
        facts = self.invoices_paid[account, intent] = invoice_facts(invoice)
        return facts

    async def subscription_state(
        self, subscription_id: str, account: str | None
    ) -> StripeSubscriptionState:
        """The subscription's status and latest invoice as Stripe has them now."""
        found = await self._get(
            _path("subscriptions", subscription_id), account, expand=["latest_invoice"]
        )
        invoice = found.get("latest_invoice")
        expanded = invoice if isinstance(invoice, Mapping) else {}
        return StripeSubscriptionState(
            status=str(found.get("status")),
            latest_invoice_id=id_of(invoice),
            latest_invoice_status=expanded.get("status"),
            latest_invoice_amount_due=expanded.get("amount_due"),
        )

    async def fee_refund_transactions(self, fee_id: str, account: str) -> list[BalanceFigures]:
        """The paying account's balance transactions of every refund of a platform fee, in
        the order Stripe made them."""
        found: list[BalanceFigures] = []
        refunds = self._listed(_path("application_fees", fee_id, "refunds"), None, limit=100)
        async for refund in refunds:
            page = await self._get(
                _path("balance_transactions"), account, source=refund["id"], limit=100
            )
            found.extend(figures_from_balance_transaction(t) for t in page.get("data") or [])
        return sorted(found, key=lambda f: (f.created or 0, f.balance_transaction_id))

    async def payout_transactions(self, payout_id: str, account: str) -> list[BalanceFigures]:
        """The balance transactions an automatic payout settled, oldest first, without the
        payout's own (their ``net`` adds up to the payout's ``amount``)."""
        found = [
            figures_from_balance_transaction(t)
            async for t in self._listed(
                _path("balance_transactions"), account, payout=payout_id, limit=100
            )
            if not (t.get("type") == "payout" and id_of(t.get("source")) == payout_id)
        ]
        return sorted(found, key=lambda f: (f.created or 0, f.balance_transaction_id))

    async def failure_code(self, invoice_id: str) -> str | None:
        """Why a platform invoice's last payment attempt failed, from its payment intent."""
        payments = await self._get(_path("invoice_payments"), None, invoice=invoice_id)
        for payment in payments.get("data") or []:
            intent = id_of((payment.get("payment") or {}).get("payment_intent"))
            if intent is None:
                continue
            found = await self._get(_path("payment_intents", intent), None)
            error = found.get("last_payment_error") or {}
            if error.get("code"):
                return str(error["code"])
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
            self._remember_transaction(lookup.account, found, lookup.charge_id)
        return figures_from_balance_transaction(found)

    def _remember_transaction(self, account: str | None, txn: Found, charge: str | None) -> None:
        """Keep a balance transaction by its id and, a charge's, by its charge: a payment's
        events name it either way."""
        self.transactions[account, str(txn["id"])] = txn
        source = id_of(txn.get("source"))
        if txn.get("type") in CHARGE_TRANSACTIONS and source is not None:
            charge = charge or source
        if charge is not None:
            self.transactions[account, charge] = txn

    async def _balance_transaction(self, lookup: FiguresLookup) -> Found | None:
        """The charge's balance transaction, else the one named."""
        txn: Any
        account = lookup.account
        if lookup.charge_id is not None:
            charge = await self._get(
                _path("charges", lookup.charge_id), account, expand=["balance_transaction"]
            )
            self._remember_charge(account, charge)
            txn = charge.get("balance_transaction")
            if isinstance(txn, str):
                txn = await self._get(_path("balance_transactions", txn), account)
        else:
            assert lookup.balance_transaction_id is not None
            txn = await self._get(
                _path("balance_transactions", lookup.balance_transaction_id), account
            )
        return txn if isinstance(txn, Mapping) and txn else None

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
            listed = self._listed(
                _path("events"), account, created={"gte": start, "lte": end}, limit=100
            )
            async for event in listed:
                found = dict(event)
                if account is not None:
                    found.setdefault("account", account)
                yield found
        except stripe.PermissionError as exc:
            log.warning("events of this account are not readable", account=account, error=str(exc))
        except stripe.StripeError as exc:
            raise stripe_failed(exc) from exc
