"""The subscriptions service room on fakes of its ports (``tests/helpers/subscriptions/fakes``):
client subscriptions (start, list, cancel), the status mirror, workspaces and their billing
recipient, the workspace's one Stripe customer, and moves to another product. No stack: what
the stack-based tests beside this one show over HTTP, here rule by rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing_contracts import subscriptions_customers as customers_contract
from billing_contracts import subscriptions_subscriptions as contract
from billing_contracts import subscriptions_workspaces as workspaces_contract
from billing_contracts.billing_subscriptions import (
    StripeSubscriptionItem,
    StripeSubscriptionSnapshot,
    StripeSubscriptionState,
)
from billing_kit.errors import (
    AgencySuspendedCannotBillError,
    BillingError,
    ConnectRequiredError,
    NotFoundError,
    StripeFailedError,
    UnavailableError,
    ValidationFailedError,
)
from billing_kit.pending_commands import command_id_of
from subscriptions.errors import (
    OneTimeProductError,
    ProductArchivedError,
    SubscriptionNotRecordedError,
)
from subscriptions.models import Subscription
from subscriptions.schemas import BillingContactIn, ClientMemberIn, WorkspacePut
from subscriptions.service.customers import CREATE_CUSTOMER
from tests.helpers.outbox import Published
from tests.helpers.subscriptions.fakes import ACCOUNT, AGENCY, Fakes

pytestmark = pytest.mark.unit

SUBSCRIPTIONS = contract.SUBSCRIPTIONS.name
WORKSPACES = workspaces_contract.WORKSPACES.name
CUSTOMERS = customers_contract.CUSTOMERS.name


class Crash(BaseException):
    """The process dies where it is raised: nothing of the service catches it."""


@pytest.fixture
def fakes() -> Fakes:
    """An agency that may bill, its monthly product ``prod-1`` and its workspace ``ws-1``."""
    world = Fakes()
    world.agency()
    world.product()
    world.workspace()
    return world


def sent(fakes: Fakes) -> list[tuple[str, str, str]]:
    """What the outbox holds: topic, event type and key of each event, in order."""
    return [(p.topic, p.event_type, p.key) for p in fakes.outbox.published]


def snapshot_of(published: Published) -> contract.SubscriptionSnapshot:
    payload = published.event.payload
    assert isinstance(payload, contract.SubscriptionSnapshot)
    return payload


def nothing_made(fakes: Fakes) -> None:
    assert fakes.stripe.calls == []
    assert fakes.commands.records == {}
    assert fakes.outbox.published == []
    assert fakes.repository.rows == {}


class TestStartSubscription:
    async def test_bills_the_workspace_on_the_agency_s_account_with_the_platform_fee(
        self, fakes: Fakes
    ) -> None:
        made = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")

        assert fakes.repository.rows == {made.id: made}
        assert (made.workspace_id, made.product_id, made.cadence) == ("ws-1", "prod-1", "monthly")
        assert (made.amount_cents, made.currency) == (250_000, "usd")
        assert made.application_fee_percent == Decimal("0.5")
        assert (made.stripe_account_id, made.stripe_customer_id) == (ACCOUNT, "cus_1")
        assert (made.stripe_subscription_id, made.stripe_price_id) == ("sub_1", "price_prod-1")
        assert (made.status, made.latest_invoice_id) == ("active", "in_1")
        assert (made.collection_method, made.days_until_due) == ("send_invoice", 30)
        assert made.billing_email == "billing@acme.example"
        on_stripe = fakes.stripe.subscriptions["sub_1"]
        assert on_stripe.metadata == {
            "agency_id": AGENCY,
            "workspace_id": "ws-1",
            "subscription_id": made.id,
            "product_id": "prod-1",
        }
        assert (on_stripe.customer_id, on_stripe.price_id) == ("cus_1", "price_prod-1")
        assert fakes.stripe.customers["cus_1"] == {
            "account": ACCOUNT,
            "name": "Acme Corp",
            "email": "billing@acme.example",
        }
        assert sent(fakes) == [
            (CUSTOMERS, "customer.linked", "ws-1"),
            (SUBSCRIPTIONS, "subscription.started", made.id),
        ]
        started = snapshot_of(fakes.outbox.published[1])
        assert fakes.outbox.published[1].event.agency_id == AGENCY
        assert (started.subscription_id, started.status, started.previous_status) == (
            made.id,
            "active",
            None,
        )
        assert started.application_fee_percent == 0.5
        assert (started.stripe_subscription_id, started.latest_invoice_id) == ("sub_1", "in_1")
        record = fakes.commands.records[made.id]
        assert (record.status, record.result) == ("done", {"stripe_subscription_id": "sub_1"})
        customer_record = fakes.commands.records[command_id_of("customer", AGENCY, "ws-1", ACCOUNT)]
        assert (customer_record.status, customer_record.result) == (
            "done",
            {"stripe_customer_id": "cus_1"},
        )

    @pytest.mark.parametrize(
        ("asked", "workspace_terms", "terms"), [(None, None, 30), (None, 14, 14), (7, 14, 7)]
    )
    async def test_payment_terms_are_the_request_s_else_the_workspace_s_else_30_days(
        self, fakes: Fakes, asked: int | None, workspace_terms: int | None, terms: int
    ) -> None:
        fakes.repository.workspaces["ws-1"].default_days_until_due = workspace_terms
        made = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1", asked)
        assert made.days_until_due == terms
        assert fakes.stripe.subscriptions["sub_1"].days_until_due == terms

    async def test_a_second_subscription_bills_the_same_customer(self, fakes: Fakes) -> None:
        fakes.product("prod-2")
        first = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        second = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-2")
        assert first.id != second.id
        assert first.stripe_customer_id == second.stripe_customer_id == "cus_1"
        assert fakes.stripe.calls.count("create_customer") == 1
        assert [p.event_type for p in fakes.outbox.published] == [
            "customer.linked",
            "subscription.started",
            "subscription.started",
        ]

    @pytest.mark.parametrize(
        ("agency", "error"),
        [
            (None, ConnectRequiredError),
            ({"charges_enabled": False}, ConnectRequiredError),
            ({"account_id": None}, ConnectRequiredError),
            ({"suspended": True}, AgencySuspendedCannotBillError),
        ],
        ids=["unknown", "onboarding", "no_account", "suspended"],
    )
    async def test_nothing_starts_unless_the_agency_may_bill(
        self, fakes: Fakes, agency: dict[str, Any] | None, error: type[BillingError]
    ) -> None:
        fakes.repository.agencies.clear()
        if agency is not None:
            fakes.agency(**agency)
        with pytest.raises(error):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        nothing_made(fakes)

    @pytest.mark.parametrize(
        ("workspace_id", "product_id"),
        [("ws-other", "prod-1"), ("ws-none", "prod-1"), ("ws-1", "prod-other"), ("ws-1", "nope")],
        ids=[
            "another_agency_s_workspace",
            "unknown_workspace",
            "another_agency_s_product",
            "unknown_product",
        ],
    )
    async def test_an_unknown_or_another_agency_s_workspace_or_product_is_not_found(
        self, fakes: Fakes, workspace_id: str, product_id: str
    ) -> None:
        fakes.workspace("ws-other", agency_id="ag-2")
        fakes.product("prod-other", agency_id="ag-2")
        with pytest.raises(NotFoundError):
            await fakes.service().start_subscription(AGENCY, workspace_id, product_id)
        nothing_made(fakes)

    @pytest.mark.parametrize(
        ("product", "error"),
        [
            ({"cadence": "one_time"}, OneTimeProductError),
            ({"status": "archived"}, ProductArchivedError),
        ],
    )
    async def test_a_one_time_or_archived_product_is_refused(
        self, fakes: Fakes, product: dict[str, Any], error: type[BillingError]
    ) -> None:
        fakes.product(**product)
        with pytest.raises(error):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        nothing_made(fakes)

    async def test_a_stripe_refusal_records_nothing_and_marks_the_command_failed(
        self, fakes: Fakes
    ) -> None:
        fakes.customer()
        fakes.stripe.fail("create_subscription", StripeFailedError())
        with pytest.raises(StripeFailedError):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        assert fakes.repository.rows == {}
        assert fakes.outbox.published == []
        assert list(fakes.commands.statuses().values()) == ["failed"]
        assert fakes.stripe.calls == ["create_subscription", "withdraw_subscription"]
        assert fakes.stripe.subscriptions == {}

    async def test_a_subscription_whose_answer_was_lost_is_canceled_on_stripe(
        self, fakes: Fakes
    ) -> None:
        fakes.customer()
        fakes.stripe.fail("create_subscription", StripeFailedError(), after_making=True)
        with pytest.raises(StripeFailedError):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        assert fakes.stripe.subscriptions["sub_1"].status == "canceled"
        assert fakes.repository.rows == {}
        assert fakes.outbox.published == []
        assert list(fakes.commands.statuses().values()) == ["failed"]

    async def test_an_undo_that_cannot_reach_stripe_leaves_the_command_undoing(
        self, fakes: Fakes
    ) -> None:
        fakes.customer()
        fakes.stripe.fail("create_subscription", StripeFailedError("lost"), after_making=True)
        fakes.stripe.fail("withdraw_subscription", StripeFailedError("away"))
        with pytest.raises(StripeFailedError, match="lost"):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        assert list(fakes.commands.statuses().values()) == ["undoing"]
        assert fakes.stripe.subscriptions["sub_1"].status == "active"  # for the sweeper
        assert fakes.repository.rows == {}

    async def test_the_same_key_again_answers_the_subscription_it_made(self, fakes: Fakes) -> None:
        fakes.commands.idempotency_key = "key-1"
        first = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        again = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        assert again is first
        assert fakes.stripe.calls.count("create_subscription") == 1
        assert len(fakes.stripe.subscriptions) == 1
        assert [p.event_type for p in fakes.outbox.published].count("subscription.started") == 1

    async def test_the_same_key_after_a_crash_finishes_the_one_stripe_subscription(
        self, fakes: Fakes
    ) -> None:
        fakes.customer()
        fakes.commands.idempotency_key = "key-1"
        fakes.stripe.fail("create_subscription", Crash(), after_making=True)
        with pytest.raises(Crash):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        (record_id,) = fakes.commands.records
        assert fakes.commands.records[record_id].status == "pending"
        fakes.stripe.failures.clear()

        made = await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")

        assert (made.id, made.stripe_subscription_id) == (record_id, "sub_1")
        assert list(fakes.stripe.subscriptions) == ["sub_1"]
        assert fakes.commands.statuses() == {record_id: "done"}
        assert sent(fakes) == [(SUBSCRIPTIONS, "subscription.started", record_id)]

    async def test_the_sweeper_completes_a_record_a_crash_left_pending(self, fakes: Fakes) -> None:
        fakes.customer()
        fakes.stripe.fail("create_subscription", Crash(), after_making=True)
        with pytest.raises(Crash):
            await fakes.service().start_subscription(AGENCY, "ws-1", "prod-1")
        (record,) = fakes.commands.records.values()
        fakes.stripe.failures.clear()

        made = await fakes.service().make_subscription(record)

        assert (made.id, made.stripe_subscription_id, made.status) == (record.id, "sub_1", "active")
        assert list(fakes.stripe.subscriptions) == ["sub_1"]
        assert fakes.commands.statuses() == {record.id: "done"}
        assert sent(fakes) == [(SUBSCRIPTIONS, "subscription.started", record.id)]


class TestListAndNames:
    async def test_lists_the_workspace_s_subscriptions_newest_first(self, fakes: Fakes) -> None:
        product = fakes.repository.products["prod-1"]
        fakes.subscription("sub-old", product=product, age=2)
        fakes.subscription("sub-new", product=product, age=1)
        fakes.subscription("sub-elsewhere", product=product).workspace_id = "ws-2"
        found = await fakes.service().list_subscriptions(AGENCY, "ws-1")
        assert [s.id for s in found] == ["sub-new", "sub-old"]

    @pytest.mark.parametrize("workspace_id", ["ws-other", "ws-none"])
    async def test_an_unknown_or_another_agency_s_workspace_is_not_found(
        self, fakes: Fakes, workspace_id: str
    ) -> None:
        fakes.workspace("ws-other", agency_id="ag-2")
        with pytest.raises(NotFoundError):
            await fakes.service().list_subscriptions(AGENCY, workspace_id)

    async def test_product_names_are_catalog_s_and_unknown_ones_are_left_out(
        self, fakes: Fakes
    ) -> None:
        names = await fakes.service().product_names(["prod-1", "prod-gone"])
        assert names == {"prod-1": "Retainer prod-1"}

    async def test_work_soon_hands_the_records_to_the_sweeper(self, fakes: Fakes) -> None:
        fakes.service().work_soon(["c-1", "c-2"])
        assert fakes.commands.asked == ["c-1", "c-2"]


class TestCancelSubscription:
    async def test_cancels_on_stripe_and_keeps_the_row(self, fakes: Fakes) -> None:
        row = fakes.subscription(product=fakes.repository.products["prod-1"])
        canceled = await fakes.service().cancel_subscription(AGENCY, "ws-1", "sub-1")
        assert canceled is fakes.repository.rows["sub-1"] is row
        assert canceled.status == "canceled"
        assert canceled.canceled_at is not None
        assert fakes.stripe.subscriptions[row.stripe_subscription_id].status == "canceled"
        assert sent(fakes) == [(SUBSCRIPTIONS, "subscription.canceled", "sub-1")]
        announced = snapshot_of(fakes.outbox.published[0])
        assert (announced.status, announced.previous_status) == ("canceled", "active")

    async def test_canceling_again_changes_nothing_more(self, fakes: Fakes) -> None:
        fakes.subscription(product=fakes.repository.products["prod-1"])
        first = await fakes.service().cancel_subscription(AGENCY, "ws-1", "sub-1")
        canceled_at = first.canceled_at
        again = await fakes.service().cancel_subscription(AGENCY, "ws-1", "sub-1")
        assert again.canceled_at == canceled_at
        assert fakes.stripe.calls == ["cancel_subscription"]
        assert len(fakes.outbox.published) == 1

    async def test_a_subscription_stripe_ended_is_answered_as_it_is(self, fakes: Fakes) -> None:
        row = fakes.subscription(product=fakes.repository.products["prod-1"])
        row.status = "incomplete_expired"
        answered = await fakes.service().cancel_subscription(AGENCY, "ws-1", "sub-1")
        assert (answered.status, answered.canceled_at) == ("incomplete_expired", None)
        assert fakes.stripe.calls == []
        assert fakes.outbox.published == []

    @pytest.mark.parametrize(
        ("workspace_id", "subscription_id"), [("ws-2", "sub-1"), ("ws-1", "x")]
    )
    async def test_another_workspace_s_or_an_unknown_subscription_is_not_found(
        self, fakes: Fakes, workspace_id: str, subscription_id: str
    ) -> None:
        fakes.subscription(product=fakes.repository.products["prod-1"])
        with pytest.raises(NotFoundError):
            await fakes.service().cancel_subscription(AGENCY, workspace_id, subscription_id)
        assert fakes.stripe.calls == []

    async def test_a_stripe_failure_changes_nothing(self, fakes: Fakes) -> None:
        row = fakes.subscription(product=fakes.repository.products["prod-1"])
        fakes.stripe.fail("cancel_subscription", StripeFailedError())
        with pytest.raises(StripeFailedError):
            await fakes.service().cancel_subscription(AGENCY, "ws-1", "sub-1")
        assert (row.status, row.canceled_at) == ("active", None)
        assert fakes.outbox.published == []
        assert fakes.repository.flushes == 0


def told(
    row: Subscription, status: str, seconds_later: int, **facts: Any
) -> StripeSubscriptionSnapshot:
    """What webhook-ingest publishes of the row's Stripe subscription, ``seconds_later`` than
    the newest status applied."""
    return StripeSubscriptionSnapshot(
        stripe_event_id=f"evt_{status}_{seconds_later}",
        stripe_created=row.status_seen_at + seconds_later,
        stripe_account_id=ACCOUNT,
        subscription_id=row.stripe_subscription_id,
        status=status,
        metadata={"subscription_id": row.id},
        **facts,
    )


class TestStatusMirror:
    @pytest.fixture
    def row(self, fakes: Fakes) -> Subscription:
        return fakes.subscription(product=fakes.repository.products["prod-1"])

    async def test_a_newer_status_is_mirrored_and_announced(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        event = told(row, "past_due", 10, current_period_end=1_800_000_000)
        await fakes.service().status_mirror.apply_stripe_subscription(event)
        assert (row.status, row.status_seen_at) == ("past_due", event.stripe_created)
        assert row.current_period_end == 1_800_000_000
        assert sent(fakes) == [(SUBSCRIPTIONS, "subscription.status_changed", "sub-1")]
        changed = snapshot_of(fakes.outbox.published[0])
        assert (changed.status, changed.previous_status) == ("past_due", "active")

    async def test_the_same_event_twice_is_announced_once(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        event = told(row, "past_due", 10)
        mirror = fakes.service().status_mirror
        await mirror.apply_stripe_subscription(event)
        await mirror.apply_stripe_subscription(event)
        assert row.status == "past_due"
        assert len(fakes.outbox.published) == 1

    async def test_an_older_event_changes_nothing(self, fakes: Fakes, row: Subscription) -> None:
        seen = row.status_seen_at
        await fakes.service().status_mirror.apply_stripe_subscription(told(row, "incomplete", -1))
        assert (row.status, row.status_seen_at) == ("active", seen)
        assert fakes.outbox.published == []

    async def test_the_same_second_is_settled_by_what_stripe_answered_after_the_event(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        state = StripeSubscriptionState(status="past_due")
        await fakes.service().status_mirror.apply_stripe_subscription(
            told(row, "unpaid", 0, stripe_state=state)
        )
        assert row.status == "past_due"
        assert fakes.stripe.calls == []
        assert [p.event_type for p in fakes.outbox.published] == ["subscription.status_changed"]

    async def test_the_same_second_without_stripe_s_answer_asks_stripe(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        fakes.stripe.subscriptions[row.stripe_subscription_id].status = "unpaid"
        await fakes.service().status_mirror.apply_stripe_subscription(told(row, "past_due", 0))
        assert row.status == "unpaid"
        assert fakes.stripe.calls == ["retrieve_subscription"]

    async def test_canceled_is_final(self, fakes: Fakes, row: Subscription) -> None:
        mirror = fakes.service().status_mirror
        await mirror.apply_stripe_subscription(told(row, "canceled", 5))
        assert row.status == "canceled"
        assert row.canceled_at is not None
        await mirror.apply_stripe_subscription(told(row, "active", 10))
        assert row.status == "canceled"
        assert [p.event_type for p in fakes.outbox.published] == ["subscription.status_changed"]

    async def test_an_event_of_ours_not_recorded_yet_is_retried(self, fakes: Fakes) -> None:
        event = StripeSubscriptionSnapshot(
            stripe_event_id="evt_1",
            stripe_created=1,
            subscription_id="sub_unknown",
            status="active",
            metadata={"subscription_id": "starting"},
        )
        with pytest.raises(SubscriptionNotRecordedError):
            await fakes.service().status_mirror.apply_stripe_subscription(event)
        not_ours = event.model_copy(update={"metadata": {}})
        await fakes.service().status_mirror.apply_stripe_subscription(not_ours)
        assert fakes.outbox.published == []

    async def test_the_first_invoice_it_tells_of_is_taken(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        row.latest_invoice_id = None
        mirror = fakes.service().status_mirror
        await mirror.apply_stripe_subscription(told(row, "active", 1, latest_invoice_id="in_9"))
        await mirror.apply_stripe_subscription(told(row, "active", 2, latest_invoice_id="in_10"))
        assert row.latest_invoice_id == "in_9"  # a newer one comes from the invoice mirror
        assert fakes.outbox.published == []

    async def test_a_move_waiting_for_the_renewal_takes_effect_when_stripe_bills_its_price(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        fakes.product("prod-2", cadence="yearly", amount_cents=2_400_000)
        migrations = fakes.service().migrations
        await migrations.migrate_subscription(AGENCY, "ws-1", "sub-1", "prod-2", "next_renewal")
        item = StripeSubscriptionItem(
            item_id="si_1", price_id="price_prod-2", unit_amount=2_000_000
        )
        await fakes.service().status_mirror.apply_stripe_subscription(
            told(row, "active", 30, items=[item])
        )
        assert (row.product_id, row.stripe_price_id, row.cadence) == (
            "prod-2",
            "price_prod-2",
            "yearly",
        )
        assert row.amount_cents == 2_000_000  # what Stripe bills
        assert (row.scheduled_product_id, row.scheduled_price_id) == (None, None)
        assert sent(fakes) == [(SUBSCRIPTIONS, "subscription.product_changed", "sub-1")]
        assert snapshot_of(fakes.outbox.published[0]).product_id == "prod-2"


def wanted(
    *members: str, contact: str | None = "billing@acme.example", **values: Any
) -> WorkspacePut:
    """A workspace with the client members named (``u-1`` is ``u-1@acme.example``)."""
    return WorkspacePut(
        name=values.pop("name", "Acme Corp"),
        billing_contact=BillingContactIn(email=contact) if contact else None,
        client_members=[ClientMemberIn(user_id=m, email=f"{m}@acme.example") for m in members],
        **values,
    )


class TestWorkspaces:
    async def test_registers_a_workspace_and_announces_it(self, fakes: Fakes) -> None:
        workspaces = fakes.service().workspaces
        workspace = await workspaces.put_workspace(
            AGENCY, "ws-new", wanted("u-1", default_days_until_due=14)
        )
        assert fakes.repository.workspaces["ws-new"] is workspace
        assert (workspace.revision, workspace.default_days_until_due) == (1, 14)
        assert workspace.billing_email == "billing@acme.example"
        assert [m["user_id"] for m in workspace.client_members] == ["u-1"]
        assert sent(fakes) == [(WORKSPACES, "workspace.registered", "ws-new")]
        payload = fakes.outbox.published[0].event.payload
        assert isinstance(payload, workspaces_contract.WorkspaceSnapshot)
        assert (payload.billing_email, payload.revision) == ("billing@acme.example", 1)
        assert await workspaces.stripe_customer_id("ws-new") is None
        assert fakes.stripe.calls == []

    async def test_the_same_workspace_again_changes_nothing(self, fakes: Fakes) -> None:
        workspaces = fakes.service().workspaces
        await workspaces.put_workspace(AGENCY, "ws-new", wanted("u-1", "u-2"))
        again = await workspaces.put_workspace(AGENCY, "ws-new", wanted("u-1", "u-2"))
        assert again.revision == 1
        assert len(fakes.outbox.published) == 1

    async def test_a_change_is_announced_with_the_next_revision(self, fakes: Fakes) -> None:
        workspaces = fakes.service().workspaces
        await workspaces.put_workspace(AGENCY, "ws-new", wanted("u-1"))
        renamed = await workspaces.put_workspace(
            AGENCY, "ws-new", wanted("u-1", name="Acme Holdings")
        )
        assert (renamed.name, renamed.revision) == ("Acme Holdings", 2)
        assert [t for _, t, _ in sent(fakes)] == ["workspace.registered", "workspace.updated"]

    async def test_the_recipient_is_the_contact_else_the_first_member_to_have_joined(
        self, fakes: Fakes
    ) -> None:
        workspaces = fakes.service().workspaces
        put = workspaces.put_workspace
        assert (
            await put(AGENCY, "ws-new", wanted("u-1", "u-2", contact=None))
        ).billing_email == "u-1@acme.example"
        # u-3 joins now and is listed first: the earliest member still receives the bills
        joined = await put(AGENCY, "ws-new", wanted("u-3", "u-2", "u-1", contact=None))
        assert [m["user_id"] for m in joined.client_members] == ["u-1", "u-2", "u-3"]
        assert joined.billing_email == "u-1@acme.example"
        assert (
            await put(AGENCY, "ws-new", wanted("u-3", "u-2", contact=None))
        ).billing_email == "u-2@acme.example"
        assert (await put(AGENCY, "ws-new", wanted("u-3"))).billing_email == "billing@acme.example"

    async def test_another_agency_s_workspace_is_not_found_and_stays_as_it_was(
        self, fakes: Fakes
    ) -> None:
        with pytest.raises(NotFoundError):
            await fakes.service().workspaces.put_workspace("ag-2", "ws-1", wanted(name="Taken"))
        assert fakes.repository.workspaces["ws-1"].name == "Acme Corp"
        assert fakes.outbox.published == []

    async def test_a_new_recipient_becomes_the_stripe_customer_s_email(self, fakes: Fakes) -> None:
        customer = fakes.customer(email="billing@acme.example")
        workspaces = fakes.service().workspaces
        await workspaces.put_workspace(AGENCY, "ws-1", wanted(name="Renamed"))
        assert fakes.stripe.calls == []  # the recipient did not change
        await workspaces.put_workspace(AGENCY, "ws-1", wanted(contact="ap@acme.example"))
        assert customer.email == "ap@acme.example"
        assert fakes.stripe.customers[customer.stripe_customer_id]["email"] == "ap@acme.example"
        assert fakes.stripe.calls == ["update_customer_email"]
        assert await workspaces.stripe_customer_id("ws-1") == customer.stripe_customer_id

    async def test_a_stripe_failure_following_the_recipient_announces_nothing(
        self, fakes: Fakes
    ) -> None:
        customer = fakes.customer(email="billing@acme.example")
        fakes.stripe.fail("update_customer_email", StripeFailedError())
        with pytest.raises(StripeFailedError):
            await fakes.service().workspaces.put_workspace(
                AGENCY, "ws-1", wanted(contact="ap@acme.example")
            )
        assert customer.email == "billing@acme.example"
        assert fakes.outbox.published == []  # and the edge rolls the workspace back


class TestCustomers:
    async def test_the_workspace_s_customer_is_made_once(self, fakes: Fakes) -> None:
        customers = fakes.service().customers
        _, first = await customers.ensure_customer(AGENCY, "ws-1")
        _, again = await customers.ensure_customer(AGENCY, "ws-1")
        assert again is first
        assert (first.stripe_customer_id, first.email) == ("cus_1", "billing@acme.example")
        assert fakes.stripe.calls == ["create_customer"]
        assert sent(fakes) == [(CUSTOMERS, "customer.linked", "ws-1")]
        payload = fakes.outbox.published[0].event.payload
        assert isinstance(payload, customers_contract.BillingCustomer)
        assert (payload.stripe_account_id, payload.stripe_customer_id) == (ACCOUNT, "cus_1")

    async def test_a_stripe_refusal_records_nothing_and_marks_the_command_failed(
        self, fakes: Fakes
    ) -> None:
        fakes.stripe.fail("create_customer", StripeFailedError())
        with pytest.raises(StripeFailedError):
            await fakes.service().customers.ensure_customer(AGENCY, "ws-1")
        assert fakes.repository.customers == {}
        assert fakes.outbox.published == []
        assert fakes.commands.statuses() == {
            command_id_of("customer", AGENCY, "ws-1", ACCOUNT): "failed"
        }

    async def test_a_customer_recorded_meanwhile_is_kept(self, fakes: Fakes) -> None:
        customers = fakes.service().customers
        record = await fakes.commands.open(
            fakes.transaction,
            CREATE_CUSTOMER,
            {"workspace_id": "ws-1", "account_id": ACCOUNT, "name": "Acme", "email": None},
            agency_id=AGENCY,
        )
        known = fakes.customer()
        assert await customers.record_customer(record) is known
        assert fakes.commands.statuses() == {record.id: "done"}
        assert fakes.outbox.published == []

    async def test_another_agency_s_workspace_is_not_found(self, fakes: Fakes) -> None:
        with pytest.raises(NotFoundError):
            await fakes.service().customers.ensure_customer("ag-2", "ws-1")
        assert fakes.stripe.calls == []


class TestMigrations:
    @pytest.fixture
    def row(self, fakes: Fakes) -> Subscription:
        fakes.product("prod-2", cadence="yearly", amount_cents=2_400_000)
        return fakes.subscription(product=fakes.repository.products["prod-1"])

    async def test_now_bills_the_new_product_at_once(self, fakes: Fakes, row: Subscription) -> None:
        moved = await fakes.service().migrations.migrate_subscription(
            AGENCY, "ws-1", "sub-1", "prod-2", "now"
        )
        assert moved is row
        assert (row.product_id, row.stripe_price_id, row.cadence, row.amount_cents) == (
            "prod-2",
            "price_prod-2",
            "yearly",
            2_400_000,
        )
        assert row.application_fee_percent == Decimal("0.5")
        (record,) = fakes.commands.records.values()
        assert row.latest_invoice_id == f"in_{record.id}"  # the change of interval invoiced
        assert fakes.stripe.subscriptions[row.stripe_subscription_id].price_id == "price_prod-2"
        assert sent(fakes) == [(SUBSCRIPTIONS, "subscription.product_changed", "sub-1")]
        assert (record.status, record.result) == ("done", {"product_id": "prod-2"})

    async def test_next_renewal_waits_and_moving_back_drops_the_waiting_change(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        migrations = fakes.service().migrations
        await migrations.migrate_subscription(AGENCY, "ws-1", "sub-1", "prod-2", "next_renewal")
        assert (row.product_id, row.scheduled_product_id, row.scheduled_price_id) == (
            "prod-1",
            "prod-2",
            "price_prod-2",
        )
        on_stripe = fakes.stripe.subscriptions[row.stripe_subscription_id]
        assert on_stripe.scheduled_price_id == "price_prod-2"
        await migrations.migrate_subscription(AGENCY, "ws-1", "sub-1", "prod-1", "next_renewal")
        assert (row.scheduled_product_id, row.scheduled_price_id) == (None, None)
        assert on_stripe.scheduled_price_id is None
        assert fakes.outbox.published == []
        assert list(fakes.commands.statuses().values()) == ["done", "done"]

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"subscription_id": "nope"}, NotFoundError),
            ({"product_id": "nope"}, NotFoundError),
            ({"status": "canceled"}, ValidationFailedError),
            ({"cadence": "one_time"}, OneTimeProductError),
            ({"product_status": "archived"}, ProductArchivedError),
            ({"currency": "eur"}, ValidationFailedError),
            ({"stripe_account_id": "acct_old"}, ValidationFailedError),
            ({"suspended": True}, AgencySuspendedCannotBillError),
        ],
        ids=[
            "unknown_subscription",
            "unknown_product",
            "ended",
            "one_time",
            "archived",
            "other_currency",
            "earlier_account",
            "suspended",
        ],
    )
    async def test_refusals_change_nothing(
        self, fakes: Fakes, row: Subscription, change: dict[str, Any], error: type[BillingError]
    ) -> None:
        target = fakes.repository.products["prod-2"]
        row.status = change.get("status", row.status)
        target.cadence = change.get("cadence", target.cadence)
        target.status = change.get("product_status", target.status)
        target.currency = change.get("currency", target.currency)
        target.stripe_account_id = change.get("stripe_account_id", target.stripe_account_id)
        fakes.agency(suspended=change.get("suspended", False))
        with pytest.raises(error):
            await fakes.service().migrations.migrate_subscription(
                AGENCY,
                "ws-1",
                change.get("subscription_id", "sub-1"),
                change.get("product_id", "prod-2"),
                "now",
            )
        assert row.product_id == "prod-1"
        assert fakes.stripe.calls == []
        assert fakes.commands.records == {}
        assert fakes.outbox.published == []

    @pytest.mark.parametrize(
        ("error", "status"), [(StripeFailedError(), "failed"), (UnavailableError(), "pending")]
    )
    async def test_a_refusal_fails_the_record_and_an_outage_leaves_it_to_the_sweeper(
        self, fakes: Fakes, row: Subscription, error: Exception, status: str
    ) -> None:
        fakes.stripe.fail("migrate_now", error)
        with pytest.raises(type(error)):
            await fakes.service().migrations.migrate_subscription(
                AGENCY, "ws-1", "sub-1", "prod-2", "now"
            )
        assert list(fakes.commands.statuses().values()) == [status]
        assert row.product_id == "prod-1"
        assert fakes.outbox.published == []

    async def test_the_same_key_again_changes_nothing_more(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        fakes.commands.idempotency_key = "key-1"
        migrations = fakes.service().migrations
        await migrations.migrate_subscription(AGENCY, "ws-1", "sub-1", "prod-2", "now")
        again = await migrations.migrate_subscription(AGENCY, "ws-1", "sub-1", "prod-2", "now")
        assert again is row
        assert fakes.stripe.calls == ["migrate_now"]
        assert len(fakes.outbox.published) == 1

    async def test_a_whole_product_moves_one_record_per_live_subscription(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        product = fakes.repository.products["prod-1"]
        fakes.subscription("sub-0", product=product, age=3)
        fakes.subscription("sub-ended", product=product).status = "canceled"
        fakes.commands.idempotency_key = "key-1"  # one request, many records: none is the key's
        service = fakes.service()
        records = await service.migrations.migrate_product(AGENCY, "prod-1", "prod-2", "now")
        service.work_soon(records)
        moving = [fakes.commands.records[r].request["subscription_id"] for r in records]
        assert moving == ["sub-0", "sub-1"]
        assert fakes.commands.by_key == {}
        assert fakes.commands.asked == records
        assert fakes.stripe.calls == []  # made right after the answer
        for record in records:
            await service.migrations.make_migration(fakes.commands.records[record])
        assert {fakes.repository.rows[s].product_id for s in moving} == {"prod-2"}
        assert fakes.repository.rows["sub-ended"].product_id == "prod-1"

    async def test_a_whole_product_keeps_its_currency(
        self, fakes: Fakes, row: Subscription
    ) -> None:
        fakes.repository.products["prod-2"].currency = "eur"
        with pytest.raises(ValidationFailedError):
            await fakes.service().migrations.migrate_product(AGENCY, "prod-1", "prod-2", "now")
        with pytest.raises(NotFoundError):
            await fakes.service().migrations.migrate_product(AGENCY, "prod-gone", "prod-2", "now")
        assert fakes.commands.records == {}
