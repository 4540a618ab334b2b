"""The manual retry of a failed SaaS-fee collection, as a saga of committed steps:

``payouts_paused``     record the agency's payout schedule (committed), then set it to manual
``waiting_for_funds``  on each ``balance.available`` (or every ``retry_recheck_seconds``)
                       read ``GET /v1/balance`` as the agency; enough → ``paying``
``paying``             ``POST /v1/invoices/{id}/pay`` with the ``stripe_balance`` method;
                       refused for funds → back to waiting, with the next attempt's key
``restoring_payouts``  put the recorded schedule back → ``succeeded`` or ``failed``

One retry per connected account runs at a time; the others wait their turn, and a finished
retry hands its recorded schedule to the next instead of restoring it, so the payouts end on
the schedule the agency had before the first pause, restored once.

One step per transaction, on a retry row locked with ``SKIP LOCKED``: a crash anywhere
loses at most the step in flight, which runs again from the committed state; each Stripe
write carries a key made of the retry's id and its step (and attempt), so running it again
repeats Stripe's first answer. The recorded schedule is restored however the retry ends:
paid (by us or by Stripe's own retry), refused, the invoice voided, or given up after
``retry_give_up_seconds``.

``RetryRunner`` runs due steps one after the other with one database connection at a time,
in the service (started with it) or alone (``python -m invoicing retries``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, get_args

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_kit.db import unit_of_work
from billing_kit.metrics import SAAS_COLLECTIONS_FAILING, SAAS_COLLECTIONS_FAILING_CENTS
from billing_kit.outbox import Outbox
from invoicing.saas_fees import repository
from invoicing.saas_fees.models import Collection, CollectionRetry
from invoicing.saas_fees.service import record_step
from invoicing.saas_fees.stripe_gateway import CollectionsStripe

log = structlog.get_logger(__name__)

MANUAL = {"interval": "manual"}
StripeStep = Literal["record_schedule", "pause_payouts", "check_balance", "pay", "restore_payouts"]
"""The Stripe calls of the saga, by name (what ``--crash-after`` names)."""
STRIPE_STEPS: tuple[StripeStep, ...] = get_args(StripeStep)


class RetrySettings(Protocol):
    """What the runner reads of the service's settings (``InvoicingSettings``'s ``retry_*``)."""

    @property
    def service_name(self) -> str: ...

    @property
    def retry_poll_seconds(self) -> float: ...

    @property
    def retry_recheck_seconds(self) -> float: ...

    @property
    def retry_give_up_seconds(self) -> float: ...


@dataclass
class RetrySaga:
    session: AsyncSession
    outbox: Outbox
    stripe: CollectionsStripe
    give_up_after: timedelta
    after_stripe: Callable[[str], None] = lambda _: None
    """Called after each Stripe call, before its result is committed (crash drills)."""

    def _key(self, retry: CollectionRetry, step: str) -> str:
        return f"invoicing:collection-retry:{retry.id}:{step}"

    async def advance(self, retry: CollectionRetry) -> None:
        """Do the retry's next step."""
        if retry.state == "payouts_paused":
            await self._pause_payouts(retry)
        elif retry.state == "waiting_for_funds":
            await self._check_funds(retry)
        elif retry.state == "paying":
            await self._pay(retry)
        elif retry.state == "restoring_payouts":
            await self._restore_payouts(retry)

    async def _pause_payouts(self, retry: CollectionRetry) -> None:
        if retry.previous_schedule is None:
            # Committed alone: read again after pausing, the schedule would say "manual".
            retry.previous_schedule = await self.stripe.payout_schedule(retry.stripe_account_id)
            self.after_stripe("record_schedule")
            await record_step(self.session, self.outbox, retry, "schedule_recorded")
            return
        await self.stripe.set_payout_schedule(
            retry.stripe_account_id, MANUAL, idempotency_key=self._key(retry, "pause")
        )
        self.after_stripe("pause_payouts")
        retry.state = "waiting_for_funds"
        await record_step(self.session, self.outbox, retry, "payouts_paused")

    async def _check_funds(self, retry: CollectionRetry) -> None:
        collection = await repository.collection(self.session, retry.invoice_id)
        if await self._settled_elsewhere(retry, collection):
            return
        now = datetime.now(UTC)
        if now - retry.started_at > self.give_up_after:
            await self._finish(retry, "failed", "given_up", "No funds came in time.")
            return
        retry.available_cents = await self.stripe.available_cents(
            retry.stripe_account_id, retry.currency
        )
        self.after_stripe("check_balance")
        retry.checked_at = now
        if retry.available_cents >= retry.amount_due:
            retry.state = "paying"
        await record_step(
            self.session, self.outbox, retry, "balance_checked", {"due": retry.amount_due}
        )

    async def _settled_elsewhere(
        self, retry: CollectionRetry, collection: Collection | None
    ) -> bool:
        """Paid by Stripe's own retry, or voided: nothing left to pay."""
        if collection is None or collection.status == "open":
            return False
        if collection.status == "paid":
            await self._finish(retry, "succeeded", "paid_elsewhere")
        else:
            reason = f"The invoice is {collection.status}."
            await self._finish(retry, "failed", "invoice_closed", reason)
        return True

    async def _pay(self, retry: CollectionRetry) -> None:
        if retry.stripe_payment_method_id is None:
            collection = await repository.collection(self.session, retry.invoice_id)
            subscription = collection.stripe_subscription_id if collection else None
            if subscription is not None:
                method = await self.stripe.subscription_payment_method(subscription)
                retry.stripe_payment_method_id = method
        if retry.stripe_payment_method_id is None:
            await self._finish(retry, "failed", "payment_refused", "No stripe_balance method.")
            return
        answer = await self.stripe.pay_invoice(
            retry.stripe_invoice_id,
            retry.stripe_payment_method_id,
            idempotency_key=self._key(retry, f"pay:{retry.pay_attempts}"),
        )
        self.after_stripe("pay")
        if answer.outcome in ("paid", "already_paid"):
            await self._finish(retry, "succeeded", "paid")
        elif answer.outcome == "insufficient_funds":
            retry.pay_attempts += 1
            retry.state = "waiting_for_funds"
            await record_step(self.session, self.outbox, retry, "payment_refused")
        else:
            await self._finish(retry, "failed", "payment_refused", answer.message)

    async def _finish(
        self, retry: CollectionRetry, outcome: str, step: str, reason: str | None = None
    ) -> None:
        """Decided: restore the payouts next, whichever way it ended."""
        retry.outcome = outcome
        retry.failure_reason = reason[:500] if reason else None
        retry.state = "restoring_payouts"
        await record_step(self.session, self.outbox, retry, step, {"outcome": outcome})

    async def _restore_payouts(self, retry: CollectionRetry) -> None:
        """Put the recorded schedule back; or, when another retry of the same account waits
        its turn, hand the schedule to it instead: payouts stay paused for it, and the last
        retry restores the schedule the agency had before the first pause, once."""
        following = await repository.next_retry_of_account(self.session, retry)
        if following is not None and retry.previous_schedule is not None:
            following.previous_schedule = following.previous_schedule or retry.previous_schedule
            retry.state = retry.outcome or "failed"
            await record_step(
                self.session, self.outbox, retry, "payouts_handed_over", {"to": following.id}
            )
            return
        if retry.previous_schedule is not None:
            await self.stripe.set_payout_schedule(
                retry.stripe_account_id,
                retry.previous_schedule,
                idempotency_key=self._key(retry, "restore"),
            )
            self.after_stripe("restore_payouts")
        retry.state = retry.outcome or "failed"
        await record_step(self.session, self.outbox, retry, "payouts_restored")


@dataclass
class RetryRunner:
    """Runs due retry steps, one at a time, each in its own transaction."""

    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    stripe: CollectionsStripe
    settings: RetrySettings
    after_stripe: Callable[[str], None] = lambda _: None
    _currencies_reported: set[str] = field(default_factory=set)
    """Currencies with failing collections reported once: set to 0 when none fail any more."""

    async def step(self) -> bool:
        """One step of one due retry; False when none is due. A step that fails is rolled
        back and its retry goes to the back of the line, so it cannot hold up the others."""
        recheck = timedelta(seconds=self.settings.retry_recheck_seconds)
        failing: str | None = None
        try:
            async with unit_of_work(self.sessions) as session:
                retry = await repository.next_due_retry(
                    session, recheck_before=datetime.now(UTC) - recheck
                )
                if retry is None:
                    return False
                failing = retry.id
                saga = RetrySaga(
                    session,
                    self.outbox,
                    self.stripe,
                    timedelta(seconds=self.settings.retry_give_up_seconds),
                    self.after_stripe,
                )
                await saga.advance(retry)
                failing = None
        finally:
            if failing is not None:
                async with unit_of_work(self.sessions) as session:
                    await repository.postpone(session, failing, datetime.now(UTC))
        return True

    async def run_until_idle(self) -> None:
        while await self.step():
            pass
        await self.report_failing()

    async def report_failing(self) -> None:
        """The failing collections, for the operator's alerts (``saas_collections_failing``)."""
        async with unit_of_work(self.sessions) as session:
            totals = await repository.failing_totals(session)
        SAAS_COLLECTIONS_FAILING.labels(self.settings.service_name).set(
            sum(n for n, _ in totals.values())
        )
        for currency in {*totals, *self._currencies_reported}:
            cents = totals.get(currency, (0, 0))[1]
            SAAS_COLLECTIONS_FAILING_CENTS.labels(self.settings.service_name, currency).set(cents)
        self._currencies_reported |= set(totals)

    async def run_forever(self) -> None:
        """Picks up unfinished retries at start and then every ``retry_poll_seconds``; a
        failing step (Stripe or the database away) is tried again on the next round."""
        while True:
            try:
                await self.run_until_idle()
            except (stripe.StripeError, OSError, ConnectionError) as exc:
                log.warning("retry step failed, trying again later", error=repr(exc))
            except Exception:
                log.exception("retry step failed, trying again later")
            await asyncio.sleep(self.settings.retry_poll_seconds)
