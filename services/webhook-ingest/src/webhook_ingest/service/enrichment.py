"""The enricher: contract events held back at ingest (``enrichments``) get what their
consumers would otherwise ask Stripe (balance-transaction figures, which invoice a payment
paid and whose it is, a fee refund's movements, an invoice's payment failure) and move to the
outbox, after the Stripe event is durable. Consumers therefore never call Stripe for them.
Which invoice a payment paid is taken from the events already stored when they tell it for
sure (``rules.attribution``), and read from Stripe otherwise.

A Stripe outage therefore never fails a webhook: the held event waits and is retried with a
growing delay (up to ``retry_cap``, short so that events flow again soon after Stripe is
back) until Stripe answers. Per aggregate (topic and key) only
the oldest held event is worked, and an event stored while an earlier one of its aggregate
is held is held behind it (``repository.STORE_EVENTS``), so each aggregate's events reach the
outbox, and so their partition, in the order they were stored. One enricher works at a time
(an advisory lock), and moving an event to the outbox deletes its held row in the same
statement, so an event is published once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import orjson
import structlog
from fastapi import FastAPI

from billing_contracts import topic_named
from billing_kit.errors import UnavailableError
from billing_kit.metrics import WEBHOOK_HELD_EVENTS, WEBHOOK_HELD_OLDEST_AGE
from billing_kit.outbox import Outbox
from webhook_ingest import repository
from webhook_ingest.repository.store import EventStore
from webhook_ingest.rules.attribution import InvoiceFacts, stored_invoice
from webhook_ingest.rules.normalize import FiguresLookup, completed
from webhook_ingest.stripe_gateway import IngestStripe

log = structlog.get_logger(__name__)


class Enricher:
    def __init__(
        self,
        store: EventStore,
        stripe: IngestStripe,
        outbox: Outbox,
        *,
        batch_size: int = 50,
        idle_poll_seconds: float = 5.0,
        retry_seconds: float = 1.0,
        retry_cap: float = 15.0,
        locked_out_seconds: float = 0.25,
        give_up_after: int = 10,
    ) -> None:
        self.store = store
        self.stripe = stripe
        self.outbox = outbox
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.retry_seconds = retry_seconds
        self.retry_cap = retry_cap
        self.locked_out_seconds = locked_out_seconds
        self.give_up_after = give_up_after
        """Tries after which an event failing for another reason than Stripe being away is
        published without what Stripe would add."""
        self.released = 0
        self._next_due: float | None = None
        """Seconds until the next held event is due, as the last pass saw it (None: none)."""
        self.held_events = WEBHOOK_HELD_EVENTS.labels("webhook-ingest")
        self.held_oldest_age = WEBHOOK_HELD_OLDEST_AGE.labels("webhook-ingest")

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                worked = await self.enrich_once()
                backoff = 0.5
                if worked is None:  # another worker's enricher is at it: look again shortly
                    await asyncio.sleep(self.locked_out_seconds)
                elif not worked:
                    await self._wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: held events wait for it
                log.warning("enricher failed, retrying", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def enrich_once(self) -> int | None:
        """Work the due oldest held event of each aggregate; returns how many were worked, or
        None when another worker's enricher is at it.

        Their bodies are completed (``enrich``), then the held rows postponed one by one
        (Stripe failing) and the rest released together, on the locked connection: a pass
        costs four or five round trips (lock, heads, maybe the stored links, release,
        unlock with the held state), however many events it releases."""
        pool = await self.store.connection_pool()
        async with pool.acquire() as conn:
            try:
                # The lock is the session's: released here or the connection dropped, never
                # left to the pool, whose release resets nothing (``LeanConnection``).
                if not await repository.try_lock_enricher(conn):
                    return None
                heads = await repository.due_heads(conn, self.batch_size)
                bodies = await self.enrich(conn, heads)
                completed = [
                    (head["id"], settled)
                    for head, body in zip(heads, bodies, strict=True)
                    if (settled := await self._settle(conn, head, body)) is not None
                ]
                if completed:
                    self.released += await repository.release(conn, completed)
                    self.outbox.wake()
                state = await repository.unlock_enricher_with_state(conn)
            except BaseException:
                try:
                    await repository.unlock_enricher(conn)
                except BaseException:
                    conn.terminate()  # pooled connections are not reset: the lock must go
                    raise
                raise
        self.held_events.set(state.held)
        self.held_oldest_age.set(state.oldest_seconds)
        self._next_due = state.next_due_seconds
        return len(heads)

    async def enrich(self, conn: Any, heads: Sequence[Any]) -> list[str | Exception]:
        """Each held event's body completed from Stripe, or why it could not be.

        Which invoice a payment intent paid comes from the events already stored when they
        tell it (``rules.attribution.stored_invoice``), else from Stripe. The events of one
        payment (``payment_intent.created``, ``charge.succeeded`` ...) are worked one after
        the other, so that the later ones find what the first read; different payments are
        read concurrently (independent reads)."""
        lookups = [_lookup(head) for head in heads]
        paid = await self._stored_invoices(conn, lookups)
        bodies: list[str | Exception] = [head["body"] for head in heads]
        payments: dict[Any, list[int]] = {}
        for index, lookup in enumerate(lookups):
            payments.setdefault(_payment_of(lookup, index), []).append(index)

        async def work(indexes: list[int]) -> None:
            for index in indexes:
                bodies[index] = await self._enriched(heads[index], lookups[index], paid)

        await asyncio.gather(*(work(indexes) for indexes in payments.values()))
        return bodies

    async def _stored_invoices(
        self, conn: Any, lookups: Sequence[FiguresLookup | Exception | None]
    ) -> dict[tuple[str, str], InvoiceFacts]:
        """The invoices the batch's payment intents paid, as far as the stored events tell
        them (those this worker knows already aside)."""
        wanted = {
            (lookup.account, lookup.attribute_payment_intent)
            for lookup in lookups
            if isinstance(lookup, FiguresLookup)
            and lookup.account is not None
            and lookup.attribute_payment_intent is not None
            and not self.stripe.knows_invoice_paid(lookup.account, lookup.attribute_payment_intent)
        }
        if not wanted:
            return {}
        stored = await repository.stored_links(conn, sorted(wanted))
        told = {payment: stored_invoice(links) for payment, links in stored.items()}
        return {payment: invoice for payment, invoice in told.items() if invoice is not None}

    async def _enriched(
        self,
        head: Any,
        lookup: FiguresLookup | Exception | None,
        paid: Mapping[tuple[str, str], InvoiceFacts],
    ) -> str | Exception:
        """The held event's body completed from Stripe, or why it could not be."""
        if lookup is None:
            return str(head["body"])  # it only waited for its turn
        if isinstance(lookup, Exception):
            return lookup
        intent = lookup.attribute_payment_intent
        invoice = paid.get((lookup.account, intent)) if lookup.account and intent else None
        try:
            found = await self.stripe.read(lookup, invoice)
            return completed(topic_named(head["topic"]), head["body"], found)
        except Exception as exc:  # Stripe away (or a bug): this aggregate waits, others go on
            return exc

    async def _settle(self, conn: Any, head: Any, body: str | Exception) -> str | None:
        """The body to publish the held event with, or None when it was postponed."""
        failing_itself = isinstance(body, Exception) and not isinstance(body, UnavailableError)
        if failing_itself and head["attempts"] + 1 >= self.give_up_after:
            # Not Stripe being away but this event (a bug, an object Stripe cannot describe):
            # published as it is rather than holding its aggregate forever; its consumers
            # complete it (a Stripe error there is waited out).
            log.error("event published without what Stripe would add", held_id=head["id"],
                      error=repr(body)[:2000])  # fmt: skip
            body = str(head["body"])
        if isinstance(body, Exception):
            delay = min(self.retry_seconds * 2 ** head["attempts"], self.retry_cap)
            error = repr(body.__cause__ or body)[:2000]
            log.warning("figures not read, retrying", held_id=head["id"], error=error, delay=delay)
            await repository.postpone(conn, head["id"], error, delay)
            return None
        return body

    async def _wait(self) -> None:
        """Until a held event is due (as the last pass saw it) or one is held, at most the
        idle poll."""
        due_in = self._next_due
        timeout = self.idle_poll_seconds if due_in is None else min(due_in, self.idle_poll_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.store.held.wait(), timeout)
        self.store.held.clear()

    def attach(self, app: FastAPI) -> None:
        """Run alongside ``app``: started once its lifespan started the rest, stopped first."""
        serve = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(app_: FastAPI) -> AsyncIterator[Any]:
            async with serve(app_) as state:
                task = asyncio.create_task(self.run(), name="webhook-ingest-enricher")
                try:
                    yield state
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        app.router.lifespan_context = lifespan


def _lookup(head: Any) -> FiguresLookup | Exception | None:
    """What to read for a held event (None: nothing, it only waits for its turn)."""
    if head["lookup"] is None:
        return None
    try:
        return FiguresLookup(**orjson.loads(head["lookup"]))
    except Exception as exc:  # a lookup this version cannot take: the event fails itself
        return exc


def _payment_of(lookup: FiguresLookup | Exception | None, index: int) -> Any:
    """Which payment a lookup reads about (its own index when none)."""
    if isinstance(lookup, FiguresLookup):
        payment = lookup.attribute_payment_intent or lookup.attribute_charge or lookup.charge_id
        if payment is not None:
            return (lookup.account, payment)
    return index
