"""Every query of the revenue service, one module per responsibility, all re-exported here
(``repository.X``): what revenue knows of connected accounts, payments, invoices,
subscriptions and names (this module); the ledger's entries and rollups
(``repository.ledger``); what the owner reads (``repository.summary``); payouts
(``repository.payouts``); the accounts to check and their checks
(``repository.reconciliation``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from billing_kit.sql_arrays import any_of, arrays, unnest_insert
from revenue.models import (
    AccountAgency,
    DisplayName,
    InvoiceFacts,
    PaymentLink,
    SubscriptionHealth,
)
from revenue.repository.ledger import (
    RollupSums,
    add_to_rollups,
    ledger_entry,
    record_entries,
    write_rollups,
)
from revenue.repository.payouts import (
    PayoutSums,
    payout_locked,
    payout_of_agency,
    payout_sums,
    payout_transactions,
    payouts_of,
    save_payout_transactions,
)
from revenue.repository.reconciliation import known_accounts, ledger_entries, save_reconciliation
from revenue.repository.summary import (
    RECONCILED,
    charging_health,
    mrr_histories,
    record_subscription_state,
    span_params,
    summary_json,
)

__all__ = [  # the queries of the modules beside this one, re-exported
    "RECONCILED",
    "PayoutSums",
    "RollupSums",
    "add_to_rollups",
    "charging_health",
    "known_accounts",
    "ledger_entries",
    "ledger_entry",
    "mrr_histories",
    "payout_locked",
    "payout_of_agency",
    "payout_sums",
    "payout_transactions",
    "payouts_of",
    "record_entries",
    "record_subscription_state",
    "save_payout_transactions",
    "save_reconciliation",
    "span_params",
    "summary_json",
    "write_rollups",
]

# Tables read and written a batch at a time, by statements whose text is the same whatever
# the batch's size (``billing_kit.sql_arrays``: keys bound as one array, rows inserted from
# one array per column), built once.
_LINKS: Table = PaymentLink.__table__  # type: ignore[attr-defined]
_INVOICES: Table = InvoiceFacts.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS: Table = SubscriptionHealth.__table__  # type: ignore[attr-defined]
_ACCOUNTS: Table = AccountAgency.__table__  # type: ignore[attr-defined]
_LINK_COLUMNS = [c.key for c in _LINKS.columns]

_AGENCIES_OF_ACCOUNTS = select(
    col(AccountAgency.stripe_account_id), col(AccountAgency.agency_id)
).where(any_of(_ACCOUNTS.c.stripe_account_id, "accounts"))
_PAYMENT_LINKS = select(PaymentLink).where(any_of(_LINKS.c.charge_id, "charges"))
_SAVE_PAYMENT_LINKS = (
    unnest_insert(_LINKS, _LINK_COLUMNS).on_conflict_do_nothing().returning(*_LINKS.c)
)
_KNOWN_INVOICES = select(InvoiceFacts).where(
    any_of(_INVOICES.c.invoice_id, "invoices"), col(InvoiceFacts.agency_id).is_not(None)
)
_INSERT_INVOICES = unnest_insert(_INVOICES, ["invoice_id"]).on_conflict_do_nothing()
_INVOICES_LOCKED = (
    select(InvoiceFacts)
    .where(any_of(_INVOICES.c.invoice_id, "invoice_id"))
    .order_by(col(InvoiceFacts.invoice_id))
    .with_for_update()
    .execution_options(populate_existing=True)  # it may have been read unlocked before
)
_SUBSCRIPTION_COLUMNS = ["subscription_id", "agency_id", "workspace_id"]
_REGISTER_SUBSCRIPTIONS = unnest_insert(
    _SUBSCRIPTIONS, _SUBSCRIPTION_COLUMNS
).on_conflict_do_nothing()


async def agency_of_account(session: AsyncSession, account_id: str) -> str | None:
    query = select(col(AccountAgency.agency_id)).where(
        col(AccountAgency.stripe_account_id) == account_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def agencies_of_accounts(session: AsyncSession, accounts: Iterable[str]) -> dict[str, str]:
    """The agency of each of ``accounts`` that has one known."""
    found = await session.execute(_AGENCIES_OF_ACCOUNTS, {"accounts": sorted(set(accounts))})
    return {account: agency for account, agency in found.all()}


async def remember_account(
    session: AsyncSession, account_id: str, agency_id: str, *, owner: bool = False
) -> None:
    """Which agency a connected account belongs to. Catalog's word (``owner``) replaces
    whatever was inferred before; an inference never replaces what is known."""
    insert_ = insert(AccountAgency).values(stripe_account_id=account_id, agency_id=agency_id)
    await session.execute(
        insert_.on_conflict_do_update(
            index_elements=[AccountAgency.__table__.c.stripe_account_id],  # type: ignore[attr-defined]
            set_={"agency_id": agency_id},
        )
        if owner
        else insert_.on_conflict_do_nothing()
    )


async def payment_links(session: AsyncSession, charge_ids: Iterable[str]) -> dict[str, PaymentLink]:
    """The links of those of ``charge_ids`` that have one."""
    found = await session.execute(_PAYMENT_LINKS, {"charges": sorted(set(charge_ids))})
    return {link.charge_id: link for link in found.scalars()}


async def save_payment_links(
    session: AsyncSession, links: Sequence[PaymentLink]
) -> dict[str, PaymentLink]:
    """Keep each link unless its charge has one already (the first word stays): every
    given charge's link as kept, in one insert and, for charges linked meanwhile, one read."""
    if not links:
        return {}
    rows = [link.model_dump() for link in sorted(links, key=_charge_id)]
    saved = await session.execute(_SAVE_PAYMENT_LINKS, arrays(rows, _LINK_COLUMNS))
    kept = {row.charge_id: PaymentLink.model_validate(row._mapping) for row in saved}
    meanwhile = [link.charge_id for link in links if link.charge_id not in kept]
    return kept | (await payment_links(session, meanwhile) if meanwhile else {})


def _charge_id(link: PaymentLink) -> str:
    return link.charge_id


async def known_invoices(
    session: AsyncSession, invoice_ids: Iterable[str]
) -> dict[str, InvoiceFacts]:
    """The facts of those of ``invoice_ids`` whose agency is known, read without a lock
    (known facts never change)."""
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return {}
    found = await session.execute(_KNOWN_INVOICES, {"invoices": wanted})
    return {facts.invoice_id: facts for facts in found.scalars()}


async def invoices_locked(
    session: AsyncSession, invoice_ids: Iterable[str]
) -> dict[str, InvoiceFacts]:
    """The facts of ``invoice_ids``, each created empty on first need, locked in key order
    (two transactions locking some of the same invoices wait for each other, never in a
    circle)."""
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return {}
    await session.execute(_INSERT_INVOICES, {"invoice_id": wanted})
    found = await session.execute(_INVOICES_LOCKED, {"invoice_id": wanted})
    return {facts.invoice_id: facts for facts in found.scalars()}


async def invoice(
    session: AsyncSession, invoice_id: str, *, for_update: bool = False
) -> InvoiceFacts | None:
    """The invoice's facts; with ``for_update`` created empty on first need and locked."""
    if for_update:
        await session.execute(
            insert(InvoiceFacts).values(invoice_id=invoice_id).on_conflict_do_nothing()
        )
    query = select(InvoiceFacts).where(col(InvoiceFacts.invoice_id) == invoice_id)
    if for_update:  # read again: the transaction may have read it unlocked before
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def subscription(session: AsyncSession, subscription_id: str) -> SubscriptionHealth | None:
    query = (
        select(SubscriptionHealth)
        .where(col(SubscriptionHealth.subscription_id) == subscription_id)
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def register_subscriptions(
    session: AsyncSession, subscriptions: dict[str, tuple[str, str | None]]
) -> None:
    """Each subscription's row (id → agency, workspace), made on first need, in one
    statement in key order; an existing one is left as it is (and not locked: the invoices
    consumer never changes it)."""
    if not subscriptions:
        return
    rows = [
        {"subscription_id": sub, "agency_id": agency, "workspace_id": workspace}
        for sub, (agency, workspace) in sorted(subscriptions.items())
    ]
    await session.execute(_REGISTER_SUBSCRIPTIONS, arrays(rows, _SUBSCRIPTION_COLUMNS))


async def ensure_subscription(
    session: AsyncSession, subscription_id: str, agency_id: str, workspace_id: str | None
) -> SubscriptionHealth:
    """The subscription's row, made on first need, locked for this transaction."""
    await register_subscriptions(session, {subscription_id: (agency_id, workspace_id)})
    found = await subscription(session, subscription_id)
    assert found is not None
    return found


# --- names -----------------------------------------------------------------------------

_NAMES: Table = DisplayName.__table__  # type: ignore[attr-defined]


async def remember_name(session: AsyncSession, name: DisplayName) -> None:
    """A workspace's or product's name, unless a later revision of it is known."""
    statement = insert(_NAMES)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_NAMES.c.kind, _NAMES.c.key],
            set_={"name": statement.excluded.name, "revision": statement.excluded.revision},
            where=_NAMES.c.revision < statement.excluded.revision,
        ),
        [name.model_dump()],
    )


async def names_of(session: AsyncSession, agency_id: str, kind: str) -> dict[str, str]:
    """The agency's names of one kind, by key."""
    query = select(_NAMES.c.key, _NAMES.c.name).where(
        _NAMES.c.agency_id == agency_id, _NAMES.c.kind == kind
    )
    return dict((await session.execute(query)).tuples().all())
