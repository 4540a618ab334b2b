"""Fakes of the subscriptions service room's ports (``subscriptions.service.ports``) for the
unit tier: each keeps its state in dicts and lists that a test reads afterwards.

- ``FakeRepository``: the service's rows, as the queries of ``SubscriptionsRepository`` find
  them (the service's changes to a row it read are kept, as in the session's identity map);
- ``FakeStripe``: the connected accounts' customers and subscriptions, with Stripe's
  idempotency (the same key makes nothing twice) and a failure to inject per call;
- ``FakeOutbox``: the events written, with their topic and key;
- ``FakeCommands``: the pending records, with the kit's rules for an ``Idempotency-Key``.

Every write goes to the edge's transaction (``Transaction``); the outbox and the pending
records refuse any other. ``Fakes`` holds one of each and builds the service on them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES
from subscriptions.models import (
    AgencyReplica,
    BillingCustomer,
    ProductReplica,
    Subscription,
    Workspace,
)
from subscriptions.service import Subscriptions
from subscriptions.stripe_gateway import StripeSubscriptionFacts
from tests.helpers.outbox import FakeOutbox
from tests.helpers.pending_commands import FakeCommands

STARTED = 1_760_000_000
"""Stripe's clock when a fake starts (Unix seconds); each object made moves it on."""
EARLIEST = datetime.min.replace(tzinfo=UTC)


class Transaction:
    """Stands for the edge's session: nothing is written in it, it only tells the fakes'
    writes that they belong to the transaction of the service under test."""


def _in(expected: AsyncSession, session: AsyncSession) -> None:
    assert session is expected, "written outside the edge's transaction"


@dataclass
class FakeRepository:
    session: AsyncSession
    agencies: dict[str, AgencyReplica] = field(default_factory=dict)
    products: dict[str, ProductReplica] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    customers: dict[tuple[str, str], BillingCustomer] = field(default_factory=dict)
    rows: dict[str, Subscription] = field(default_factory=dict)
    """The subscriptions, by id."""
    flushes: int = 0

    def add(self, row: SQLModel) -> None:
        if isinstance(row, BillingCustomer):
            key = (row.workspace_id, row.stripe_account_id)
            assert key not in self.customers, f"duplicate customer {key}"
            self.customers[key] = row
        elif isinstance(row, Subscription):
            assert row.id not in self.rows, f"duplicate subscription {row.id}"
            self.rows[row.id] = row
        else:
            raise TypeError(f"the service adds no {type(row).__name__}")

    async def flush(self) -> None:
        self.flushes += 1

    async def product(self, agency_id: str, product_id: str) -> ProductReplica | None:
        found = self.products.get(product_id)
        return found if found is not None and found.agency_id == agency_id else None

    async def agency(self, agency_id: str, *, for_update: bool = False) -> AgencyReplica | None:
        return self.agencies.get(agency_id)

    async def register_workspace(self, workspace_id: str, agency_id: str, name: str) -> bool:
        if workspace_id in self.workspaces:
            return False
        self.workspaces[workspace_id] = Workspace(
            id=workspace_id, agency_id=agency_id, name=name, client_members=[], revision=0
        )
        return True

    async def workspace(self, workspace_id: str, *, for_update: bool = False) -> Workspace | None:
        return self.workspaces.get(workspace_id)

    async def billing_customer(
        self, workspace_id: str, stripe_account_id: str
    ) -> BillingCustomer | None:
        return self.customers.get((workspace_id, stripe_account_id))

    async def billing_customers(self, workspace_id: str) -> Sequence[BillingCustomer]:
        return [c for (ws, _), c in self.customers.items() if ws == workspace_id]

    async def subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str
    ) -> Subscription | None:
        found = self.rows.get(subscription_id)
        if found is None or (found.agency_id, found.workspace_id) != (agency_id, workspace_id):
            return None
        return found

    async def subscription_by_stripe_id(self, stripe_subscription_id: str) -> Subscription | None:
        found = (
            s for s in self.rows.values() if s.stripe_subscription_id == stripe_subscription_id
        )
        return next(found, None)

    async def subscription_by_id(self, subscription_id: str) -> Subscription | None:
        return self.rows.get(subscription_id)

    async def subscriptions(self, agency_id: str, workspace_id: str) -> Sequence[Subscription]:
        found = [
            s
            for s in self.rows.values()
            if (s.agency_id, s.workspace_id) == (agency_id, workspace_id)
        ]
        found.sort(key=lambda s: s.id)
        return sorted(found, key=lambda s: s.created_at or EARLIEST, reverse=True)

    async def live_subscriptions_of_product(
        self, agency_id: str, product_id: str, ended: frozenset[str]
    ) -> Sequence[Subscription]:
        found = [
            s
            for s in self.rows.values()
            if (s.agency_id, s.product_id) == (agency_id, product_id) and s.status not in ended
        ]
        return sorted(found, key=lambda s: (s.created_at or EARLIEST, s.id))

    async def product_names(self, product_ids: Sequence[str]) -> dict[str, str]:
        return {pid: self.products[pid].name for pid in product_ids if pid in self.products}


@dataclass
class StripeSubscription:
    """A subscription as the fake Stripe keeps it."""

    id: str
    account_id: str
    customer_id: str
    price_id: str
    status: str
    created: int
    metadata: dict[str, str]
    days_until_due: int | None = None
    scheduled_price_id: str | None = None
    latest_invoice_id: str | None = None
    latest_invoice_created: int = 0
    current_period_end: int | None = None

    def facts(self) -> StripeSubscriptionFacts:
        return StripeSubscriptionFacts(
            subscription_id=self.id,
            status=self.status,
            created=self.created,
            latest_invoice_id=self.latest_invoice_id,
            latest_invoice_status="open" if self.latest_invoice_id else None,
            hosted_invoice_url=f"https://invoice.example/{self.latest_invoice_id}"
            if self.latest_invoice_id
            else None,
            latest_invoice_created=self.latest_invoice_created,
            price_id=self.price_id,
            current_period_end=self.current_period_end,
        )


@dataclass
class Failure:
    error: BaseException
    after_making: bool
    """Stripe did it, and the answer was lost on the way back."""


@dataclass
class FakeStripe:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, StripeSubscription] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    """The name of every call, in order."""
    failures: dict[str, Failure] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    """Idempotency key → the id of what the first call with it made."""
    clock: itertools.count[int] = field(default_factory=lambda: itertools.count(STARTED))

    def fail(self, call: str, error: BaseException, *, after_making: bool = False) -> None:
        """Make every ``call`` fail with ``error`` (after doing its work: ``after_making``)."""
        self.failures[call] = Failure(error, after_making)

    def _called(self, call: str) -> Failure | None:
        self.calls.append(call)
        failure = self.failures.get(call)
        if failure is not None and not failure.after_making:
            raise failure.error
        return failure

    @staticmethod
    def _answer(failure: Failure | None) -> None:
        if failure is not None:
            raise failure.error

    async def create_customer(
        self, *, account_id: str, agency_id: str, workspace_id: str, name: str, email: str | None
    ) -> str:
        failure = self._called("create_customer")
        key = f"customer:{agency_id}:{workspace_id}"
        if key not in self.keys:
            self.keys[key] = customer_id = f"cus_{len(self.customers) + 1}"
            self.customers[customer_id] = {"account": account_id, "name": name, "email": email}
        self._answer(failure)
        return self.keys[key]

    async def update_customer_email(
        self, account_id: str, customer_id: str, email: str | None
    ) -> None:
        self._answer(self._called("update_customer_email"))
        self.customers[customer_id]["email"] = email

    async def create_subscription(
        self,
        *,
        account_id: str,
        customer_id: str,
        price_id: str,
        days_until_due: int,
        metadata: dict[str, str],
    ) -> StripeSubscriptionFacts:
        failure = self._called("create_subscription")
        key = f"subscription:{metadata['subscription_id']}"
        if key not in self.keys:
            made = self.new_subscription(
                account_id, customer_id, price_id, metadata, days_until_due
            )
            self.keys[key] = made.id
        self._answer(failure)
        return self.subscriptions[self.keys[key]].facts()

    def new_subscription(
        self,
        account_id: str,
        customer_id: str,
        price_id: str,
        metadata: dict[str, str],
        days_until_due: int | None = None,
    ) -> StripeSubscription:
        """A subscription on Stripe, active, with its first invoice open."""
        created = next(self.clock)
        number = len(self.subscriptions) + 1
        made = StripeSubscription(
            id=f"sub_{number}",
            account_id=account_id,
            customer_id=customer_id,
            price_id=price_id,
            status="active",
            created=created,
            metadata=metadata,
            days_until_due=days_until_due,
            latest_invoice_id=f"in_{number}",
            latest_invoice_created=created,
            current_period_end=created + 30 * 86_400,
        )
        self.subscriptions[made.id] = made
        return made

    async def retrieve_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts:
        self._answer(self._called("retrieve_subscription"))
        return self.subscriptions[subscription_id].facts()

    async def cancel_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts:
        failure = self._called("cancel_subscription")
        self.subscriptions[subscription_id].status = "canceled"
        self._answer(failure)
        return self.subscriptions[subscription_id].facts()

    async def withdraw_subscription(
        self, account_id: str, customer_id: str, subscription_id: str
    ) -> None:
        self._answer(self._called("withdraw_subscription"))
        for sub in self.subscriptions.values():
            ours = sub.metadata.get("subscription_id") == subscription_id
            if (
                ours
                and sub.customer_id == customer_id
                and sub.status not in SUBSCRIPTION_ENDED_STATUSES
            ):
                sub.status = "canceled"

    async def migrate_now(
        self, account_id: str, subscription_id: str, price_id: str, migration_id: str
    ) -> StripeSubscriptionFacts:
        failure = self._called("migrate_now")
        sub = self.subscriptions[subscription_id]
        sub.scheduled_price_id = None
        if sub.price_id != price_id:
            sub.price_id = price_id
            sub.latest_invoice_id = f"in_{migration_id}"
            sub.latest_invoice_created = next(self.clock)
        self._answer(failure)
        return sub.facts()

    async def migrate_at_renewal(
        self,
        account_id: str,
        subscription_id: str,
        price_id: str,
        cadence: str,
        migration_id: str,
    ) -> StripeSubscriptionFacts:
        failure = self._called("migrate_at_renewal")
        sub = self.subscriptions[subscription_id]
        sub.scheduled_price_id = None if price_id == sub.price_id else price_id
        self._answer(failure)
        return sub.facts()


AGENCY = "ag-1"
ACCOUNT = "acct_1"


@dataclass
class Fakes:
    """One transaction's worth of the subscriptions service on fakes, with the rows a test
    starts from."""

    transaction: AsyncSession = field(default_factory=lambda: cast(AsyncSession, Transaction()))
    repository: FakeRepository = field(init=False)
    stripe: FakeStripe = field(default_factory=FakeStripe)
    outbox: FakeOutbox = field(init=False)
    commands: FakeCommands = field(init=False)

    def __post_init__(self) -> None:
        self.repository = FakeRepository(self.transaction)
        self.outbox = FakeOutbox(self.transaction)
        self.commands = FakeCommands(self.transaction)

    def service(self) -> Subscriptions:
        return Subscriptions(self.repository, self.outbox, self.stripe, self.commands)

    def agency(
        self,
        agency_id: str = AGENCY,
        *,
        account_id: str | None = ACCOUNT,
        charges_enabled: bool = True,
        suspended: bool = False,
    ) -> AgencyReplica:
        row = AgencyReplica(
            agency_id=agency_id,
            stripe_account_id=account_id,
            charges_enabled=charges_enabled,
            suspended=suspended,
        )
        self.repository.agencies[agency_id] = row
        return row

    def product(
        self, product_id: str = "prod-1", *, agency_id: str = AGENCY, **values: Any
    ) -> ProductReplica:
        row = ProductReplica(
            **{
                "product_id": product_id,
                "agency_id": agency_id,
                "name": f"Retainer {product_id}",
                "cadence": "monthly",
                "amount_cents": 250_000,
                "currency": "usd",
                "status": "active",
                "stripe_account_id": ACCOUNT,
                "stripe_price_id": f"price_{product_id}",
                "revision": 1,
                **values,
            }
        )
        self.repository.products[product_id] = row
        return row

    def workspace(
        self, workspace_id: str = "ws-1", *, agency_id: str = AGENCY, **values: Any
    ) -> Workspace:
        row = Workspace(
            **{
                "id": workspace_id,
                "agency_id": agency_id,
                "name": "Acme Corp",
                "billing_contact_email": "billing@acme.example",
                "client_members": [],
                "revision": 1,
                **values,
            }
        )
        self.repository.workspaces[workspace_id] = row
        return row

    def customer(self, workspace_id: str = "ws-1", email: str | None = None) -> BillingCustomer:
        """The workspace's Stripe customer, on Stripe and recorded."""
        customer_id = f"cus_{len(self.stripe.customers) + 1}"
        self.stripe.customers[customer_id] = {"account": ACCOUNT, "name": "", "email": email}
        row = BillingCustomer(
            workspace_id=workspace_id,
            stripe_account_id=ACCOUNT,
            agency_id=AGENCY,
            stripe_customer_id=customer_id,
            email=email,
        )
        self.repository.customers[workspace_id, ACCOUNT] = row
        return row

    def subscription(
        self, subscription_id: str = "sub-1", *, product: ProductReplica, age: int = 0
    ) -> Subscription:
        """A live subscription of ``product`` on the workspace ws-1, on Stripe and recorded;
        one ``age`` days older than another was started before it."""
        customer = self.repository.customers.get(("ws-1", ACCOUNT)) or self.customer()
        metadata = {"subscription_id": subscription_id}
        made = self.stripe.new_subscription(
            ACCOUNT, customer.stripe_customer_id, product.stripe_price_id, metadata
        )
        row = Subscription(
            id=subscription_id,
            agency_id=AGENCY,
            workspace_id="ws-1",
            product_id=product.product_id,
            cadence=product.cadence,
            amount_cents=product.amount_cents,
            currency=product.currency,
            application_fee_percent=Decimal("0.5"),
            billing_email=customer.email,
            days_until_due=30,
            stripe_account_id=ACCOUNT,
            stripe_customer_id=customer.stripe_customer_id,
            stripe_subscription_id=made.id,
            stripe_price_id=product.stripe_price_id,
            status="active",
            status_seen_at=made.created,
            current_period_end=made.current_period_end,
            latest_invoice_id=made.latest_invoice_id,
            latest_invoice_status="open",
            latest_invoice_created=made.latest_invoice_created,
            created_at=datetime(2025, 10, 1, tzinfo=UTC) - timedelta(days=age),
        )
        self.repository.rows[subscription_id] = row
        return row
