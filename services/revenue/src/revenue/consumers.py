"""revenue's subscribers: money movements into the ledger, invoices and subscriptions into
charging health and MRR, payouts into payout reconciliation, agencies' connected accounts into
attribution, workspaces' and products' names into the dashboard, and the platform's SaaS-fee
plans, collections and the accounts' balances into the back-office."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_contracts.billing_balances import (
    STRIPE_BALANCES,
    StripeBalanceSnapshot,
    StripePayoutSnapshot,
)
from billing_contracts.billing_invoices import STRIPE_INVOICES, StripeInvoiceSnapshot
from billing_contracts.billing_payments import (
    STRIPE_PAYMENTS,
    StripeApplicationFeeSnapshot,
    StripeChargeSnapshot,
    StripeDisputeSnapshot,
    StripePaymentIntentSnapshot,
    StripeRefundSnapshot,
)
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS, StripeSubscriptionSnapshot
from billing_contracts.catalog_agencies import AGENCIES, AgencyBillingProfile
from billing_contracts.catalog_products import PRODUCTS, ProductSnapshot
from billing_contracts.invoicing_collections import COLLECTIONS, CollectionSnapshot
from billing_contracts.revenue_ledger import LedgerKind
from billing_contracts.subscriptions_agency_plans import AGENCY_PLANS, AgencyPlanSnapshot
from billing_contracts.subscriptions_workspaces import WORKSPACES, WorkspaceSnapshot
from billing_kit.inbox import Batched, Subscriber
from billing_kit.outbox import Outbox
from billing_kit.runtime import Runtime
from revenue.back_office.service import BackOffice
from revenue.rules import Figures, from_unix
from revenue.service import Revenue
from revenue.service.ledger import Ledger, Movement, carried_movements
from revenue.stripe_gateway import RevenueStripe

_REFUND_MOVED = {None, "pending", "succeeded", "requires_action", "failed"}
"""Refund statuses whose amount has left the balance (a failed refund's did too, and its
``refund_failure`` transaction gave it back)."""


async def apply_payment_events(ledger: Ledger, events: Sequence[Event]) -> None:
    """Record the money movements events of ``billing.payments.v1`` tell of, together."""
    movements: list[Movement] = []
    for event in events:
        movements += await movements_of(ledger, event)
    await ledger.record_all(movements)


async def movements_of(ledger: Ledger, event: Event) -> list[Movement]:
    """The money movements an event of ``billing.payments.v1`` tells of, if any.

    What the event carries (figures, a dispute's or a fee refund's balance transactions,
    where the payment belongs) is used as it is; only an event published before it carried
    them makes revenue read Stripe."""
    snapshot = event.payload
    if isinstance(snapshot, StripeApplicationFeeSnapshot):
        account, charge_id = snapshot.paying_account_id, snapshot.charge_id
        if event.type != "application_fee.refunded" or not account or not charge_id:
            return []
        template = _template(event, account, charge_id, snapshot.attribution)
        if snapshot.refund_balance_transactions is not None:
            return carried_movements(template, snapshot.refund_balance_transactions)
        return await ledger.fee_refund_movements(template, snapshot.application_fee_id)
    account = getattr(snapshot, "stripe_account_id", None)
    if account is None:
        return []  # the platform's own payments (SaaS fees) are not client revenue
    if isinstance(snapshot, StripeDisputeSnapshot):
        template = _template(event, account, snapshot.charge_id or "", snapshot.attribution)
        if snapshot.balance_transactions is not None and snapshot.charge_id is not None:
            return carried_movements(template, snapshot.balance_transactions)
        return await ledger.dispute_movements(template, snapshot.dispute_id)
    told = _told_movement(snapshot)
    if told is None:
        return []
    kind, charge_id, source_id, figures, txn_id, created = told
    # Figures enriched on the event are Stripe's; an event without them is completed here.
    found = (
        Figures.from_contract(figures)
        if figures is not None
        else await ledger.figures_of(account, txn_id)
    )
    attribution: PaymentAttribution | None = getattr(snapshot, "attribution", None)
    template = _template(event, account, charge_id, attribution)
    moved = replace(
        template, kind=kind, figures=found, source_id=source_id, occurred_at=from_unix(created)
    )
    if isinstance(snapshot, StripeRefundSnapshot):
        return [moved, *_refund_failure(template, snapshot)]
    return [moved]


def _refund_failure(template: Movement, refund: StripeRefundSnapshot) -> list[Movement]:
    """A failed refund's amount given back, from the figures its event carries. Without them
    nothing is read here: reconciliation finds the ``refund_failure`` transaction."""
    figures, charge_id = refund.failure_figures, refund.charge_id
    if refund.status != "failed" or figures is None or charge_id is None:
        return []
    return [
        replace(
            template,
            kind="refund_failure",
            figures=Figures.from_contract(figures),
            source_id=refund.refund_id,
            occurred_at=from_unix(refund.stripe_created),  # when it failed, if no day of its own
        )
    ]


def _template(
    event: Event, account: str, charge_id: str, attribution: PaymentAttribution | None
) -> Movement:
    """A movement of ``charge_id`` as the event tells it; kind and figures are filled in."""
    return Movement(
        kind="charge",
        figures=_NO_FIGURES,
        account=account,
        charge_id=charge_id,
        source_id="",
        occurred_at=event.occurred_at,
        attribution=attribution,
        agency_hint=event.agency_id,
    )


_NO_FIGURES = Figures(balance_transaction_id="", currency="", gross=0, stripe_fee=0,
                      platform_fee=0, net=0)  # fmt: skip

_Told = tuple[LedgerKind, str, str, BalanceFigures | None, str, int]


def _told_movement(snapshot: object) -> _Told | None:
    """(kind, charge, source, figures, balance transaction, created) of a charge, refund or
    payment intent snapshot that moved money."""
    if isinstance(snapshot, StripeChargeSnapshot):
        txn = snapshot.balance_transaction_id
        if snapshot.status != "succeeded" or txn is None:
            return None
        charge = snapshot.charge_id
        created = snapshot.created or snapshot.stripe_created
        return "charge", charge, charge, snapshot.figures, txn, created
    if isinstance(snapshot, StripeRefundSnapshot):
        refund_txn, refunded = snapshot.balance_transaction_id, snapshot.charge_id
        if snapshot.status not in _REFUND_MOVED or refund_txn is None or refunded is None:
            return None
        created = snapshot.created or snapshot.stripe_created
        return "refund", refunded, snapshot.refund_id, snapshot.figures, refund_txn, created
    if isinstance(snapshot, StripePaymentIntentSnapshot):
        charge_id, figures = snapshot.latest_charge_id, snapshot.figures
        if snapshot.status != "succeeded" or charge_id is None or figures is None:
            return None
        txn = figures.balance_transaction_id
        return "charge", charge_id, charge_id, figures, txn, snapshot.stripe_created
    return None


def handlers(outbox: Outbox, stripe: RevenueStripe) -> dict[str, tuple[Topic, Subscriber]]:
    """What revenue does with each topic it consumes, by consumer (its group is
    ``revenue.<consumer>``): money movements and invoices a batch at a time (the hot paths),
    the rest an event at a time. A subscription's states for MRR are a consumer of their own,
    so that a new one reads the topic from its start (the history is its input)."""

    async def on_money(session: AsyncSession, events: Sequence[Event]) -> None:
        # A batch's invoices and money movements in one transaction: the invoices first, so
        # the movements of their payments find them.
        await Revenue.of(session, stripe).apply_invoices(
            [(e.agency_id, e.type, e.payload) for e in events
             if isinstance(e.payload, StripeInvoiceSnapshot)]
        )  # fmt: skip
        payments = [e for e in events if isinstance(e, STRIPE_PAYMENTS.events)]
        await apply_payment_events(Ledger.of(session, outbox, stripe), payments)

    async def on_subscription(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, StripeSubscriptionSnapshot):
            await Revenue.of(session, stripe).apply_subscription(event.agency_id, event.payload)

    async def on_subscription_state(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, StripeSubscriptionSnapshot):
            await Revenue.of(session, stripe).record_subscription_state(event.payload)

    async def on_payout(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, StripePayoutSnapshot):
            await Revenue.of(session, stripe).apply_payout(event.agency_id, event.payload)

    async def on_workspace(session: AsyncSession, event: Event) -> None:
        workspace = event.payload
        if isinstance(workspace, WorkspaceSnapshot) and event.agency_id:
            await Revenue.of(session, stripe).remember_name(
                "workspace", workspace.workspace_id, event.agency_id, workspace.name,
                workspace.revision,
            )  # fmt: skip

    async def on_product(session: AsyncSession, event: Event) -> None:
        product = event.payload
        if isinstance(product, ProductSnapshot) and event.agency_id:
            await Revenue.of(session, stripe).remember_name(
                "product", product.stripe_product_id, event.agency_id, product.name,
                product.revision,
            )  # fmt: skip

    async def on_agency(session: AsyncSession, event: Event) -> None:
        profile = event.payload
        if isinstance(profile, AgencyBillingProfile) and profile.stripe_account_id:
            await Revenue.of(session, stripe).remember_account(
                profile.stripe_account_id, profile.agency_id, owner=True
            )

    async def on_agency_plan(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, AgencyPlanSnapshot):
            await BackOffice(session).apply_agency_plan(event.payload, event.occurred_at)

    async def on_collection(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, CollectionSnapshot):
            await BackOffice(session).apply_collection(event.payload, event.occurred_at)

    async def on_balance(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, StripeBalanceSnapshot):
            await BackOffice(session).apply_balance(event.payload)

    money = Batched(on_money)
    return {
        # invoices before ledger: should their joint transaction fail, each consumer applies
        # its part alone, in this order (as ``on_money`` does).
        "invoices": (STRIPE_INVOICES, money),
        "ledger": (STRIPE_PAYMENTS, money),
        "subscriptions": (STRIPE_SUBSCRIPTIONS, on_subscription),
        "subscription-states": (STRIPE_SUBSCRIPTIONS, on_subscription_state),
        "payouts": (STRIPE_BALANCES, on_payout),
        "agencies": (AGENCIES, on_agency),
        "workspaces": (WORKSPACES, on_workspace),
        "products": (PRODUCTS, on_product),
        "agency-plans": (AGENCY_PLANS, on_agency_plan),
        "collections": (COLLECTIONS, on_collection),
        "balances": (STRIPE_BALANCES, on_balance),
    }


def register(runtime: Runtime) -> None:
    runtime.subscribe_all(handlers(runtime.outbox, RevenueStripe(runtime.stripe)))
