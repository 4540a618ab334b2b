"""What revenue's rules need of the world, as the rules use it: its queries and rows
(``revenue.repository.transaction.RevenueRepository``), Stripe's reads
(``revenue.stripe_gateway.RevenueStripe``) and the outbox (the kit's ``Publisher``, which
``Outbox`` is). Revenue opens no pending records: it only reads Stripe.

``Revenue.build`` and ``Revenue.of`` / ``Ledger.of`` wire the real objects; the fast tests
wire fakes that keep their state in memory (``tests/helpers/revenue/fakes.py``).

Each part of the service names the queries it uses (``FactsRepository`` for what revenue
knows of accounts, invoices, subscriptions and names, ``PayoutsRepository``,
``ReadsRepository``, ``LedgerRepository``); ``Repository`` is all of them, what ``Revenue``
and ``Ledger`` hold. ``revenue.repository`` documents each query."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from revenue.models import (
    DisplayName,
    InvoiceFacts,
    LedgerEntry,
    PaymentLink,
    Payout,
    PayoutTransaction,
    SubscriptionHealth,
    SubscriptionStateRow,
)
from revenue.repository import PayoutSums
from revenue.rules import SubscriptionHistory, WorkspacePage

StripeDict = dict[str, Any]


class FactsRepository(Protocol):
    """What revenue knows of accounts, invoices, subscriptions and names, in one
    transaction; a ``*_locked`` or ``ensure_*`` row is made on first need and locked."""

    async def flush(self) -> None:
        """Write what changed so far (the edge commits it)."""

    async def agency_of_account(self, account_id: str) -> str | None: ...

    async def remember_account(
        self, account_id: str, agency_id: str, *, owner: bool = False
    ) -> None:
        """Catalog's word (``owner``) replaces an inferred agency; an inference replaces
        nothing."""

    async def invoice(
        self, invoice_id: str, *, for_update: bool = False
    ) -> InvoiceFacts | None: ...

    async def invoices_locked(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]: ...

    async def register_subscriptions(
        self, subscriptions: dict[str, tuple[str, str | None]]
    ) -> None:
        """Each subscription's row (id → agency, workspace) made unless it exists."""

    async def ensure_subscription(
        self, subscription_id: str, agency_id: str, workspace_id: str | None
    ) -> SubscriptionHealth: ...

    async def record_subscription_state(self, state: SubscriptionStateRow) -> None:
        """Kept once (the same state told again adds nothing)."""

    async def remember_name(self, name: DisplayName) -> None:
        """Kept unless a later revision of it is known."""

    async def names_of(self, agency_id: str, kind: str) -> dict[str, str]: ...


class PayoutsRepository(Protocol):
    """The payouts' queries of one transaction."""

    async def flush(self) -> None: ...

    async def agency_of_account(self, account_id: str) -> str | None: ...

    async def payout_locked(self, payout: Payout) -> Payout:
        """The payout's row, made from ``payout`` on first need, locked."""

    async def save_payout_transactions(self, transactions: Sequence[PayoutTransaction]) -> None:
        """Each once (the same list told again adds nothing)."""

    async def payouts_of(
        self, agency_id: str, first: date, last: date, limit: int
    ) -> Sequence[Payout]:
        """Arriving from ``first`` to ``last`` (inclusive), latest first."""

    async def payout_sums(self, payout_ids: Sequence[str]) -> dict[str, tuple[PayoutSums, int]]:
        """Per payout: its transactions' sums per kind, and how many there are."""

    async def payout_of_agency(self, agency_id: str, payout_id: str) -> Payout | None: ...

    async def payout_transactions(self, payout_id: str) -> Sequence[Mapping[Any, Any]]:
        """Its transactions' columns by name, oldest first, with their entries'
        ``workspace_id`` and ``invoice_id``."""


class ChargingRow(Protocol):
    """A subscription's charging health as the query reads it (unix seconds)."""

    @property
    def subscription_id(self) -> str: ...
    @property
    def workspace_id(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def stripe_product_id(self) -> str | None: ...
    @property
    def last_paid_at(self) -> int | None: ...
    @property
    def failing_since(self) -> int | None: ...


class ReadsRepository(Protocol):
    """What the owner reads, built by the database."""

    async def summary_json(
        self, agency_id: str, currency: str, start: date, end: date, page: WorkspacePage
    ) -> str: ...

    async def charging_health(self, agency_id: str) -> Sequence[ChargingRow]: ...

    async def mrr_histories(
        self, agencies: Sequence[str], currency: str, workspace_id: str | None
    ) -> dict[str, list[SubscriptionHistory]]: ...


class LedgerRepository(FactsRepository, Protocol):
    """The ledger's queries of one transaction (and the facts it attributes with)."""

    async def record_entries(self, entries: Sequence[LedgerEntry]) -> set[str]:
        """Insert those not in yet; the ids of those that were new."""

    async def ledger_entry(self, entry_id: str) -> LedgerEntry | None:
        """The entry, locked."""

    def add_to_rollups(
        self,
        *,
        agency_id: str,
        workspace_id: str,
        day: date,
        currency: str,
        delta: dict[str, int],
        entries: int = 1,
    ) -> None:
        """Staged, written together at the end of the transaction."""

    async def payment_links(self, charge_ids: Iterable[str]) -> dict[str, PaymentLink]: ...

    async def save_payment_links(self, links: Sequence[PaymentLink]) -> dict[str, PaymentLink]:
        """Kept unless the charge has one already (the first word stays): every given
        charge's link as kept."""

    async def agencies_of_accounts(self, accounts: Iterable[str]) -> dict[str, str]: ...

    async def known_invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]:
        """Those whose agency is known, unlocked (known facts never change)."""


class Repository(LedgerRepository, PayoutsRepository, ReadsRepository, Protocol):
    """Every query of revenue's rules in one transaction."""


class FactsStripe(Protocol):
    """What ``Revenue`` reads from Stripe when an event did not carry it."""

    async def agency_of_account(self, account: str) -> str | None: ...

    async def invoice(self, account: str, invoice_id: str) -> StripeDict: ...


class StripeGateway(FactsStripe, Protocol):
    """Every read of the ledger (``RevenueStripe`` documents each); a Stripe error is raised
    as Stripe's, and the consumer retries the event."""

    async def balance_transaction(self, account: str, txn_id: str) -> StripeDict: ...

    async def dispute(self, account: str, dispute_id: str) -> StripeDict: ...

    async def charge(self, account: str, charge_id: str) -> StripeDict: ...

    async def fee_refund_transactions(self, fee_id: str, account: str) -> list[StripeDict]: ...

    async def invoice_paid_by(self, account: str, payment_intent_id: str) -> str | None: ...
