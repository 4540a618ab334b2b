"""Every query of ``revenue.repository`` for one transaction: ``RevenueRepository`` holds the
edge's session and calls the function of each method's name with it, as the service's ports
ask for them (``revenue.service.ports``). The queries stay functions (the reconciler, the
back-office and the command line call them with a session of their own)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from revenue import repository
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
from revenue.repository.payouts import PayoutSums
from revenue.rules import SubscriptionHistory, WorkspacePage


class RevenueRepository:
    """The queries of one transaction (``session``); it also flushes what changed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flush(self) -> None:
        await self.session.flush()

    # --- accounts, invoices, subscriptions, names ---------------------------------------

    async def agency_of_account(self, account_id: str) -> str | None:
        return await repository.agency_of_account(self.session, account_id)

    async def agencies_of_accounts(self, accounts: Iterable[str]) -> dict[str, str]:
        return await repository.agencies_of_accounts(self.session, accounts)

    async def remember_account(
        self, account_id: str, agency_id: str, *, owner: bool = False
    ) -> None:
        await repository.remember_account(self.session, account_id, agency_id, owner=owner)

    async def invoice(self, invoice_id: str, *, for_update: bool = False) -> InvoiceFacts | None:
        return await repository.invoice(self.session, invoice_id, for_update=for_update)

    async def invoices_locked(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]:
        return await repository.invoices_locked(self.session, invoice_ids)

    async def known_invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]:
        return await repository.known_invoices(self.session, invoice_ids)

    async def register_subscriptions(
        self, subscriptions: dict[str, tuple[str, str | None]]
    ) -> None:
        await repository.register_subscriptions(self.session, subscriptions)

    async def ensure_subscription(
        self, subscription_id: str, agency_id: str, workspace_id: str | None
    ) -> SubscriptionHealth:
        return await repository.ensure_subscription(
            self.session, subscription_id, agency_id, workspace_id
        )

    async def record_subscription_state(self, state: SubscriptionStateRow) -> None:
        await repository.record_subscription_state(self.session, state)

    async def remember_name(self, name: DisplayName) -> None:
        await repository.remember_name(self.session, name)

    async def names_of(self, agency_id: str, kind: str) -> dict[str, str]:
        return await repository.names_of(self.session, agency_id, kind)

    # --- the ledger ---------------------------------------------------------------------

    async def record_entries(self, entries: Sequence[LedgerEntry]) -> set[str]:
        return await repository.record_entries(self.session, entries)

    async def ledger_entry(self, entry_id: str) -> LedgerEntry | None:
        return await repository.ledger_entry(self.session, entry_id)

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
        repository.add_to_rollups(
            self.session,
            agency_id=agency_id,
            workspace_id=workspace_id,
            day=day,
            currency=currency,
            delta=delta,
            entries=entries,
        )

    async def payment_links(self, charge_ids: Iterable[str]) -> dict[str, PaymentLink]:
        return await repository.payment_links(self.session, charge_ids)

    async def save_payment_links(self, links: Sequence[PaymentLink]) -> dict[str, PaymentLink]:
        return await repository.save_payment_links(self.session, links)

    # --- payouts ------------------------------------------------------------------------

    async def payout_locked(self, payout: Payout) -> Payout:
        return await repository.payout_locked(self.session, payout)

    async def save_payout_transactions(self, transactions: Sequence[PayoutTransaction]) -> None:
        await repository.save_payout_transactions(self.session, transactions)

    async def payouts_of(
        self, agency_id: str, first: date, last: date, limit: int
    ) -> Sequence[Payout]:
        return await repository.payouts_of(self.session, agency_id, first, last, limit)

    async def payout_sums(self, payout_ids: Sequence[str]) -> dict[str, tuple[PayoutSums, int]]:
        return await repository.payout_sums(self.session, payout_ids)

    async def payout_of_agency(self, agency_id: str, payout_id: str) -> Payout | None:
        return await repository.payout_of_agency(self.session, agency_id, payout_id)

    async def payout_transactions(self, payout_id: str) -> Sequence[RowMapping]:
        return await repository.payout_transactions(self.session, payout_id)

    # --- what the owner reads -----------------------------------------------------------

    async def summary_json(
        self, agency_id: str, currency: str, start: date, end: date, page: WorkspacePage
    ) -> str:
        return await repository.summary_json(self.session, agency_id, currency, start, end, page)

    async def charging_health(self, agency_id: str) -> Sequence[Row[Any]]:
        return await repository.charging_health(self.session, agency_id)

    async def mrr_histories(
        self, agencies: Sequence[str], currency: str, workspace_id: str | None
    ) -> dict[str, list[SubscriptionHistory]]:
        return await repository.mrr_histories(self.session, agencies, currency, workspace_id)
