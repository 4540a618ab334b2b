"""The payouts of the agencies' connected accounts: each as its events tell it (its status
in its order, the balance transactions it settled), and as the owner reads them."""

from __future__ import annotations

from datetime import date
from typing import Any

from billing_contracts.billing_balances import StripePayoutSnapshot
from billing_contracts.billing_stripe import BalanceFigures
from billing_kit.errors import NotFoundError
from revenue.models import Payout, PayoutTransaction
from revenue.repository import PayoutSums
from revenue.rules import (
    Figures,
    day_of,
    from_unix,
    kind_of_figures,
    payout_figures,
    payout_status_applies,
)
from revenue.schemas import PayoutDetail, PayoutSummary, PayoutTransactionOut
from revenue.service.ports import PayoutsRepository


class Payouts:
    """``Revenue``'s payouts (a part of it: ``revenue.service.Revenue``)."""

    repository: PayoutsRepository

    async def apply_payout(self, agency_hint: str | None, snapshot: StripePayoutSnapshot) -> None:
        """A connected account's payout as its event tells it: the status in its order, and
        the balance transactions it settled once they are told (on ``payout.paid``)."""
        account = snapshot.stripe_account_id
        if account is None:
            return  # the platform's own payouts are not an agency's
        told_at = snapshot.stripe_created
        agency = await self.repository.agency_of_account(account) or agency_hint
        arrival = day_of(from_unix(snapshot.arrival_date or snapshot.created or told_at))
        row = await self.repository.payout_locked(
            Payout(
                payout_id=snapshot.payout_id,
                stripe_account_id=account,
                agency_id=agency,
                status=snapshot.status,
                status_seen_at=told_at,
                amount_cents=snapshot.amount,
                currency=snapshot.currency,
                arrival_date=arrival,
                automatic=bool(snapshot.automatic),
                created=snapshot.created or told_at,
            ),
        )
        row.agency_id = row.agency_id or agency
        if told_at >= row.status_seen_at:
            row.arrival_date = arrival  # Stripe may move it until the money arrives
        if payout_status_applies(row.status, row.status_seen_at, snapshot.status, told_at):
            row.status, row.status_seen_at = snapshot.status, told_at
        if snapshot.balance_transactions is not None and not row.transactions_known:
            await self.repository.save_payout_transactions(
                [_settled(snapshot.payout_id, f) for f in snapshot.balance_transactions],
            )
            row.transactions_known = True
        await self.repository.flush()

    async def payouts(self, agency_id: str, first: date, last: date) -> list[PayoutSummary]:
        """The agency's payouts arriving from ``first`` to ``last``, latest first."""
        rows = await self.repository.payouts_of(agency_id, first, last, PAYOUTS_MAX)
        sums = await self.repository.payout_sums([row.payout_id for row in rows])
        summaries = []
        for row in rows:
            by_kind, count = sums.get(row.payout_id, ({}, 0))
            summaries.append(PayoutSummary(**_payout_fields(row, by_kind), transactions=count))
        return summaries

    async def payout(self, agency_id: str, payout_id: str) -> PayoutDetail:
        """One of the agency's payouts with the balance transactions it settled."""
        row = await self.repository.payout_of_agency(agency_id, payout_id)
        if row is None:
            raise NotFoundError("No such payout.")
        sums = await self.repository.payout_sums([payout_id])
        settled = await self.repository.payout_transactions(payout_id)
        return PayoutDetail(
            **_payout_fields(row, sums.get(payout_id, ({}, 0))[0]),
            transactions=[
                PayoutTransactionOut(
                    balance_transaction_id=t["balance_transaction_id"],
                    type=t["type"],
                    workspace_id=t["workspace_id"],
                    invoice_id=t["invoice_id"],
                    gross_cents=t["gross_cents"],
                    fee_cents=t["gross_cents"] - t["net_cents"],
                    net_cents=t["net_cents"],
                    created=t["created"],
                )
                for t in settled
            ],
        )


PAYOUTS_MAX = 10_000
"""The most payouts one answer lists (ten years of daily payouts in a few currencies)."""


def _settled(payout_id: str, figures: BalanceFigures) -> PayoutTransaction:
    found = Figures.from_contract(figures)
    return PayoutTransaction(
        payout_id=payout_id,
        balance_transaction_id=figures.balance_transaction_id,
        type=figures.type or "",
        kind=kind_of_figures(figures),
        source_id=figures.source,
        currency=figures.currency,
        gross_cents=found.gross,
        stripe_fee_cents=found.stripe_fee,
        platform_fee_cents=found.platform_fee,
        net_cents=found.net,
        created=from_unix(figures.created or 0),
    )


def _payout_fields(row: Payout, sums: PayoutSums) -> dict[str, Any]:
    """A payout's fields as the API shows them, its figures from its transactions' sums."""
    figures = payout_figures(sums)
    del figures["net_cents"]  # the payout's amount (equal once its transactions are known)
    return {
        "payout_id": row.payout_id,
        "status": row.status,
        "arrival_date": row.arrival_date,
        "automatic": row.automatic,
        "currency": row.currency,
        "amount_cents": row.amount_cents,
        "transactions_known": row.transactions_known,
        **figures,
    }
