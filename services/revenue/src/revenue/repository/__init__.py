"""Every query of the revenue service."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, RowMapping, Table, TextClause, and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from billing_kit.db import staged
from revenue.models import (
    AccountAgency,
    AgencyRollup,
    DisplayName,
    InvoiceFacts,
    LedgerEntry,
    PaymentLink,
    Payout,
    PayoutTransaction,
    Reconciliation,
    SubscriptionHealth,
    SubscriptionStateRow,
    WorkspaceRollup,
)
from revenue.rules import (
    ROLLUP_FIGURES,
    Span,
    SubscriptionHistory,
    SubscriptionState,
    WorkspacePage,
    rollup_periods,
    spans,
)


async def record_entries(session: AsyncSession, entries: Sequence[LedgerEntry]) -> set[str]:
    """Insert the entries whose balance transaction is not in yet (in key order, one
    statement); the ids of those that were new."""
    if not entries:
        return set()
    rows = [e.model_dump(exclude={"recorded_at"}) for e in sorted(entries, key=_entry_id)]
    inserted = await session.execute(
        insert(_LEDGER).on_conflict_do_nothing().returning(_LEDGER.c.entry_id), rows
    )
    return set(inserted.scalars())


def _entry_id(entry: LedgerEntry) -> str:
    return entry.entry_id


# Tables written a batch at a time: one statement with a list of parameters (a ``values``
# list would compile anew for every batch, ~30 ms for 200 rows).
_AGENCY_ROLLUPS: Table = AgencyRollup.__table__  # type: ignore[attr-defined]
_LEDGER: Table = LedgerEntry.__table__  # type: ignore[attr-defined]
_LINKS: Table = PaymentLink.__table__  # type: ignore[attr-defined]
_INVOICES: Table = InvoiceFacts.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS: Table = SubscriptionHealth.__table__  # type: ignore[attr-defined]
_WORKSPACE_ROLLUPS: Table = WorkspaceRollup.__table__  # type: ignore[attr-defined]


_ROLLUP_SUMS = (*ROLLUP_FIGURES, "entries")
RollupSums = dict[tuple[int, tuple[Any, ...]], dict[str, int]]
"""Per rollup row ((0: agency table, 1: workspace table), primary key): what to add."""


def add_to_rollups(
    session: AsyncSession,
    *,
    agency_id: str,
    workspace_id: str,
    day: date,
    currency: str,
    delta: dict[str, int],
    entries: int = 1,
) -> None:
    """Add one entry to its agency's month and day and to its workspace's year, month and
    day (``entries=-1`` with a negated ``delta`` takes it out), at the end of the
    transaction: the sums of all its entries are written together (``write_rollups``)."""
    staged_sums = staged(session, "revenue.rollups", dict, write_rollups)
    for grain, start in rollup_periods(day):
        keys: list[tuple[int, tuple[Any, ...]]] = [
            (1, (agency_id, currency, grain, start, workspace_id))
        ]
        if grain != "year":
            keys.append((0, (agency_id, currency, grain, start)))
        for key in keys:
            sums = staged_sums.setdefault(key, dict.fromkeys(_ROLLUP_SUMS, 0))
            for name in ROLLUP_FIGURES:
                sums[name] += delta.get(name, 0)
            sums["entries"] += entries


async def write_rollups(session: AsyncSession, staged_sums: RollupSums) -> None:
    """The transaction's rollup sums: one ``INSERT … ON CONFLICT DO UPDATE`` per table, the
    agency table first and each table's rows in key order, so that two transactions adding
    to the same rows lock them in the same order (no deadlock, however their events
    interleave) and each row is written once however many entries add to it."""
    for index, table in enumerate((_AGENCY_ROLLUPS, _WORKSPACE_ROLLUPS)):
        keys = [c.name for c in table.primary_key]
        rows = [
            {**dict(zip(keys, key, strict=True)), **sums}
            for (which, key), sums in sorted(staged_sums.items())
            if which == index
        ]
        if not rows:
            continue
        statement = insert(table)
        add = {name: table.c[name] + statement.excluded[name] for name in _ROLLUP_SUMS}
        await session.execute(statement.on_conflict_do_update(index_elements=keys, set_=add), rows)


_SUMS = ", ".join(f"sum({name})::bigint AS {name}" for name in ROLLUP_FIGURES)
_TOTALS = ", ".join(f"coalesce(sum({name}), 0)::bigint AS {name}" for name in ROLLUP_FIGURES)


def _span_condition(n: int, prefix: str, *, one_period: bool = False) -> str:
    """Span ``n`` of the agency's currency: an index range (over ``one_period``, an
    equality, so the rows come in ``workspace_id`` order)."""
    period = (
        f"period_start = :{prefix}first_{n}"
        if one_period
        else f"period_start BETWEEN :{prefix}first_{n} AND :{prefix}last_{n}"
    )
    return (
        f"agency_id = :agency_id AND currency = :currency AND grain = :{prefix}grain_{n}"
        f" AND {period}"
    )


def _rows_in_spans(
    table: str, spans: int, prefix: str, condition: str = "", *, one_period: bool = False
) -> str:
    """A table's rows in ``spans`` spans, each read on its own."""
    return " UNION ALL ".join(
        f"SELECT * FROM revenue.{table}"
        f" WHERE {_span_condition(n, prefix, one_period=one_period)}{condition}"
        for n in range(spans)
    )


def _page_ids(spans: int, after: str) -> str:
    """The ids of the first ``limit`` + 1 workspaces with a row in any of ``spans`` spans:
    the workspaces of the range's years in order (one row each per year), each kept once the
    workspace-ordered index shows a row of one of the spans for it, until the page is full.
    Widest spans first: a busy workspace is found by its first look."""
    found_in = " OR ".join(
        f"EXISTS (SELECT FROM revenue.workspace_rollups AS r"
        f" WHERE {_span_condition(n, 'ws_')} AND r.workspace_id = y.workspace_id)"
        for n in reversed(range(spans))  # ``rules.spans`` lists the days first
    )
    return f"""
    SELECT y.workspace_id FROM (
        SELECT DISTINCT workspace_id FROM revenue.workspace_rollups
        WHERE agency_id = :agency_id AND currency = :currency AND grain = 'year'
          AND period_start BETWEEN :first_year AND :last_year{after}
        ORDER BY workspace_id
    ) AS y
    WHERE {found_in}
    ORDER BY y.workspace_id LIMIT CAST(:limit AS integer) + 1"""


RECONCILED = """CASE WHEN count(*) = 0 THEN 'unchecked'
                     WHEN bool_and(status = 'reconciled') THEN 'reconciled'
                     WHEN bool_or(status = 'mismatch') THEN 'mismatch'
                     ELSE 'healing' END"""
"""How a set of accounts' last checks (rows of ``reconciliations``) read as one status."""

_RECONCILIATION = f"""
    SELECT json_build_object('status', {RECONCILED}, 'checked_at', min(checked_at))
    FROM revenue.reconciliations WHERE agency_id = :agency_id"""
"""The agency's accounts' last checks, as the summary's ``reconciliation``."""


@functools.cache
def _summary_statement(
    workspace_spans: int, agency_spans: int, after: bool, one_period: bool
) -> TextClause:
    """Totals and months over every workspace; the workspaces themselves one page at a
    time, in ``workspace_id`` order, ``workspaces_next`` naming the last one of a page that
    has more after it. Over ``one_period`` (a year, a month, a day) each workspace has one
    row, so the page is read in index order and nothing after it is read; over several
    spans, the page's ids come first, then only their rows are summed."""
    after_condition = " AND workspace_id > :after" if after else ""
    agency_rows = _rows_in_spans("agency_rollups", agency_spans, "")
    if one_period:
        page = f"""
    SELECT workspace_id, {", ".join(ROLLUP_FIGURES)}
    FROM ({_rows_in_spans("workspace_rollups", 1, "ws_", after_condition, one_period=True)}) AS r
    ORDER BY r.workspace_id LIMIT CAST(:limit AS integer) + 1"""
    else:
        in_page = f"{after_condition} AND workspace_id <= (SELECT max(workspace_id) FROM ids)"
        page = f"""
    SELECT workspace_id, {_SUMS}
    FROM ({_rows_in_spans("workspace_rollups", workspace_spans, "ws_", in_page)}) AS r
    GROUP BY r.workspace_id ORDER BY r.workspace_id"""
    ids = "" if one_period else f"ids AS ({_page_ids(workspace_spans, after_condition)}), "
    return text(f"""
WITH {ids}page AS ({page}
), listed AS (
    SELECT * FROM page ORDER BY workspace_id LIMIT :limit
), months AS (
    SELECT to_char(period_start, 'YYYY-MM') AS month, {_SUMS}
    FROM ({agency_rows}) AS r GROUP BY 1
), totals AS (
    SELECT CAST(:currency AS text) AS currency, CAST(:period_from AS date) AS period_from,
           CAST(:period_to AS date) AS period_to, {_TOTALS},
           CASE WHEN (SELECT count(*) FROM page) > :limit
                THEN (SELECT max(workspace_id) FROM listed) END AS workspaces_next
    FROM months
)
SELECT left(row_to_json(totals)::text, -1)
    || ',"reconciliation":' || ({_RECONCILIATION})::text
    || ',"workspaces":' || coalesce((
        SELECT json_agg(w ORDER BY w.workspace_id NULLS FIRST)
        FROM (SELECT nullif(workspace_id, '') AS workspace_id, {", ".join(ROLLUP_FIGURES)}
              FROM listed) AS w)::text, '[]')
    || ',"months":' || coalesce((SELECT json_agg(m ORDER BY m.month) FROM months AS m)::text,
                                '[]')
    || '}}'
FROM totals
""")


def span_params(found: list[Span], prefix: str) -> dict[str, object]:
    params: dict[str, object] = {}
    for n, span in enumerate(found):
        params.update(
            {
                f"{prefix}grain_{n}": span.grain,
                f"{prefix}first_{n}": span.first,
                f"{prefix}last_{n}": span.last,
            }
        )
    return params


async def summary_json(
    session: AsyncSession,
    agency_id: str,
    currency: str,
    start: date,
    end: date,
    page: WorkspacePage,
) -> str:
    """The owner's summary from ``start`` to ``end`` (UTC days, inclusive) as JSON text,
    built by Postgres: totals and months from the agency's months and edge days, then a
    page of workspaces from their years, months and edge days."""
    per_workspace = spans(start, end)
    per_agency = spans(start, end, years=False)
    one_period = len(per_workspace) == 1 and per_workspace[0].first == per_workspace[0].last
    statement = _summary_statement(
        len(per_workspace), len(per_agency), page.after is not None, one_period
    )
    params = {
        "agency_id": agency_id,
        "currency": currency,
        "period_from": start,
        "period_to": end,
        "limit": page.limit,
        **({"after": page.after} if page.after is not None else {}),
        **span_params(per_workspace, "ws_"),
        "first_year": start.replace(month=1, day=1),
        "last_year": end.replace(month=1, day=1),
        **span_params(per_agency, ""),
    }
    found = (await session.execute(statement, params)).scalar_one()
    assert isinstance(found, str)
    return found


async def agency_of_account(session: AsyncSession, account_id: str) -> str | None:
    query = select(col(AccountAgency.agency_id)).where(
        col(AccountAgency.stripe_account_id) == account_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def agencies_of_accounts(session: AsyncSession, accounts: Iterable[str]) -> dict[str, str]:
    """The agency of each of ``accounts`` that has one known."""
    query = select(col(AccountAgency.stripe_account_id), col(AccountAgency.agency_id)).where(
        col(AccountAgency.stripe_account_id).in_(sorted(set(accounts)))
    )
    return {account: agency for account, agency in (await session.execute(query)).all()}


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
    query = select(PaymentLink).where(col(PaymentLink.charge_id).in_(sorted(set(charge_ids))))
    return {link.charge_id: link for link in (await session.execute(query)).scalars()}


async def save_payment_links(
    session: AsyncSession, links: Sequence[PaymentLink]
) -> dict[str, PaymentLink]:
    """Keep each link unless its charge has one already (the first word stays): every
    given charge's link as kept, in one insert and, for charges linked meanwhile, one read."""
    if not links:
        return {}
    rows = [link.model_dump() for link in sorted(links, key=_charge_id)]
    saved = await session.execute(
        insert(_LINKS).on_conflict_do_nothing().returning(*_LINKS.c), rows
    )
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
    query = select(InvoiceFacts).where(
        col(InvoiceFacts.invoice_id).in_(wanted), col(InvoiceFacts.agency_id).is_not(None)
    )
    return {facts.invoice_id: facts for facts in (await session.execute(query)).scalars()}


async def invoices_locked(
    session: AsyncSession, invoice_ids: Iterable[str]
) -> dict[str, InvoiceFacts]:
    """The facts of ``invoice_ids``, each created empty on first need, locked in key order
    (two transactions locking some of the same invoices wait for each other, never in a
    circle)."""
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return {}
    await session.execute(
        insert(_INVOICES).on_conflict_do_nothing(), [{"invoice_id": i} for i in wanted]
    )
    query = (
        select(InvoiceFacts)
        .where(col(InvoiceFacts.invoice_id).in_(wanted))
        .order_by(col(InvoiceFacts.invoice_id))
        .with_for_update()
        .execution_options(populate_existing=True)  # it may have been read unlocked before
    )
    return {facts.invoice_id: facts for facts in (await session.execute(query)).scalars()}


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
    await session.execute(insert(_SUBSCRIPTIONS).on_conflict_do_nothing(), rows)


async def ensure_subscription(
    session: AsyncSession, subscription_id: str, agency_id: str, workspace_id: str | None
) -> SubscriptionHealth:
    """The subscription's row, made on first need, locked for this transaction."""
    await register_subscriptions(session, {subscription_id: (agency_id, workspace_id)})
    found = await subscription(session, subscription_id)
    assert found is not None
    return found


async def charging_health(session: AsyncSession, agency_id: str) -> Sequence[Row[Any]]:
    """Per subscription: status, when an invoice of it was last paid, and the first failed
    attempt among its invoices still unpaid."""
    invoices = InvoiceFacts.__table__.alias("i")  # type: ignore[attr-defined]
    last_paid = (
        select(func.max(invoices.c.paid_at))
        .where(invoices.c.subscription_id == col(SubscriptionHealth.subscription_id))
        .scalar_subquery()
    )
    failing = (
        select(func.min(invoices.c.first_failed_at))
        .where(
            and_(
                invoices.c.subscription_id == col(SubscriptionHealth.subscription_id),
                invoices.c.status.not_in(("paid", "void")),
            )
        )
        .scalar_subquery()
    )
    query = (
        select(
            col(SubscriptionHealth.subscription_id),
            col(SubscriptionHealth.workspace_id),
            col(SubscriptionHealth.status),
            col(SubscriptionHealth.stripe_product_id),
            last_paid.label("last_paid_at"),
            failing.label("failing_since"),
        )
        .where(col(SubscriptionHealth.agency_id) == agency_id)
        .order_by(col(SubscriptionHealth.workspace_id), col(SubscriptionHealth.subscription_id))
    )
    return (await session.execute(query)).all()


async def ledger_entries(
    session: AsyncSession, account_id: str, start: datetime, end: datetime
) -> Sequence[LedgerEntry]:
    query = (
        select(LedgerEntry)
        .where(
            col(LedgerEntry.stripe_account_id) == account_id,
            col(LedgerEntry.occurred_at) >= start,
            col(LedgerEntry.occurred_at) < end,
        )
        .order_by(tuple_(col(LedgerEntry.occurred_at), col(LedgerEntry.entry_id)))
    )
    return (await session.execute(query)).scalars().all()


async def ledger_entry(session: AsyncSession, entry_id: str) -> LedgerEntry | None:
    query = select(LedgerEntry).where(col(LedgerEntry.entry_id) == entry_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def known_accounts(session: AsyncSession) -> list[tuple[str, str]]:
    """Every connected account with its agency, in account order."""
    query = select(col(AccountAgency.stripe_account_id), col(AccountAgency.agency_id))
    rows = (await session.execute(query.order_by(col(AccountAgency.stripe_account_id)))).all()
    return [(account, agency) for account, agency in rows]


async def save_reconciliation(session: AsyncSession, checked: Reconciliation) -> None:
    values = checked.model_dump()
    await session.execute(
        insert(Reconciliation)
        .values(**values)
        .on_conflict_do_update(index_elements=["stripe_account_id"], set_=values)
    )


# --- payouts ---------------------------------------------------------------------------

_PAYOUTS: Table = Payout.__table__  # type: ignore[attr-defined]
_PAYOUT_TRANSACTIONS: Table = PayoutTransaction.__table__  # type: ignore[attr-defined]


async def payout_locked(session: AsyncSession, payout: Payout) -> Payout:
    """The payout's row, made from ``payout`` on first need, locked for this transaction."""
    await session.execute(insert(_PAYOUTS).on_conflict_do_nothing(), [payout.model_dump()])
    query = (
        select(Payout)
        .where(col(Payout.payout_id) == payout.payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def save_payout_transactions(
    session: AsyncSession, transactions: Sequence[PayoutTransaction]
) -> None:
    """A payout's settled transactions, each once (the same list told again adds nothing)."""
    if transactions:
        rows = [t.model_dump() for t in transactions]
        await session.execute(insert(_PAYOUT_TRANSACTIONS).on_conflict_do_nothing(), rows)


async def payouts_of(
    session: AsyncSession, agency_id: str, first: date, last: date, limit: int
) -> Sequence[Payout]:
    """The agency's payouts arriving from ``first`` to ``last`` (inclusive), latest first."""
    query = (
        select(Payout)
        .where(
            col(Payout.agency_id) == agency_id,
            col(Payout.arrival_date) >= first,
            col(Payout.arrival_date) <= last,
        )
        .order_by(col(Payout.arrival_date).desc(), col(Payout.payout_id))
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


PayoutSums = dict[str | None, tuple[int, int, int, int]]
"""Per ledger kind (None: not client revenue): gross, stripe fee, platform fee, net."""


async def payout_sums(
    session: AsyncSession, payout_ids: Sequence[str]
) -> dict[str, tuple[PayoutSums, int]]:
    """Per payout: its transactions' sums per kind, and how many there are."""
    t = _PAYOUT_TRANSACTIONS.c
    query = (
        select(
            t.payout_id,
            t.kind,
            func.sum(t.gross_cents),
            func.sum(t.stripe_fee_cents),
            func.sum(t.platform_fee_cents),
            func.sum(t.net_cents),
            func.count(),
        )
        .where(t.payout_id.in_(payout_ids))
        .group_by(t.payout_id, t.kind)
    )
    found: dict[str, tuple[PayoutSums, int]] = {}
    for payout_id, kind, gross, stripe_fee, platform_fee, net, count in await session.execute(
        query
    ):
        sums, counted = found.get(payout_id, ({}, 0))
        sums[kind] = (int(gross), int(stripe_fee), int(platform_fee), int(net))
        found[payout_id] = (sums, counted + int(count))
    return found


async def payout_of_agency(session: AsyncSession, agency_id: str, payout_id: str) -> Payout | None:
    query = select(Payout).where(
        col(Payout.payout_id) == payout_id, col(Payout.agency_id) == agency_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def payout_transactions(session: AsyncSession, payout_id: str) -> Sequence[RowMapping]:
    """A payout's transactions, oldest first, each with the workspace and invoice its
    ledger entry names (none for what is not client revenue)."""
    t, entry = _PAYOUT_TRANSACTIONS.c, _LEDGER.c
    query = (
        select(*_PAYOUT_TRANSACTIONS.c, entry.workspace_id, entry.invoice_id)
        .select_from(
            _PAYOUT_TRANSACTIONS.outerjoin(_LEDGER, entry.entry_id == t.balance_transaction_id)
        )
        .where(t.payout_id == payout_id)
        .order_by(t.created, t.balance_transaction_id)
    )
    return (await session.execute(query)).mappings().all()


# --- MRR -------------------------------------------------------------------------------

_STATES: Table = SubscriptionStateRow.__table__  # type: ignore[attr-defined]


async def record_subscription_state(session: AsyncSession, state: SubscriptionStateRow) -> None:
    """A subscription's state as an event told it, once."""
    await session.execute(insert(_STATES).on_conflict_do_nothing(), [state.model_dump()])


async def mrr_histories(
    session: AsyncSession, agencies: Sequence[str], currency: str, workspace_id: str | None
) -> dict[str, list[SubscriptionHistory]]:
    """The agencies' subscriptions (of one workspace, if named) with their states in
    ``currency`` and when each first invoice was paid, by agency."""
    health = select(
        col(SubscriptionHealth.subscription_id),
        col(SubscriptionHealth.workspace_id),
        col(SubscriptionHealth.agency_id),
    ).where(col(SubscriptionHealth.agency_id).in_(agencies))
    if workspace_id is not None:
        health = health.where(col(SubscriptionHealth.workspace_id) == workspace_id)
    owners = {sub: (ws, agency) for sub, ws, agency in await session.execute(health)}
    if not owners:
        return {}
    ids = sorted(owners)
    s = _STATES.c
    states: dict[str, list[SubscriptionState]] = {}
    rows = await session.execute(
        select(s.subscription_id, s.at, s.status, s.monthly_cents).where(
            s.subscription_id.in_(ids), s.currency == currency
        )
    )
    for sub, at, status, cents in rows:
        states.setdefault(sub, []).append(SubscriptionState(at, status, cents))
    first_paid = dict(
        (
            await session.execute(
                select(col(InvoiceFacts.subscription_id), func.min(col(InvoiceFacts.paid_at)))
                .where(col(InvoiceFacts.subscription_id).in_(ids))
                .group_by(col(InvoiceFacts.subscription_id))
            )
        )
        .tuples()
        .all()
    )
    found: dict[str, list[SubscriptionHistory]] = {}
    for sub in ids:
        if sub in states:
            workspace, agency = owners[sub]
            found.setdefault(agency, []).append(
                SubscriptionHistory(sub, workspace or "", first_paid.get(sub), tuple(states[sub]))
            )
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
