"""The enricher: contract events held back at ingest (``enrichments``) get what their
consumers would otherwise ask Stripe (balance-transaction figures, which invoice a payment
paid and whose it is, a fee refund's movements, an invoice's payment failure) and move to the
outbox, after the Stripe event is durable. Consumers therefore never call Stripe for them.

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
from collections.abc import AsyncIterator
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

        The batch's figures are read from Stripe concurrently (they are independent reads);
        the held rows are then released or postponed one by one on the locked connection."""
        pool = await self.store.connection_pool()
        async with pool.acquire() as conn:
            if not await repository.try_lock_enricher(conn):
                return None
            try:
                heads = await repository.due_heads(conn, self.batch_size)
                bodies = await asyncio.gather(*(self._enriched(head) for head in heads))
                for head, body in zip(heads, bodies, strict=True):
                    await self._settle(conn, head, body)
                held, oldest = await repository.held_state(conn)
                self.held_events.set(held)
                self.held_oldest_age.set(oldest)
            finally:
                try:
                    await repository.unlock_enricher(conn)
                except BaseException:
                    conn.terminate()  # pooled connections are not reset: the lock must go
                    raise
        return len(heads)

    async def _enriched(self, head: Any) -> str | Exception:
        """The held event's body completed from Stripe, or why it could not be."""
        body: str = head["body"]
        try:
            if head["lookup"] is not None:
                lookup = FiguresLookup(**orjson.loads(head["lookup"]))
                found = await self.stripe.read(lookup)
                body = completed(topic_named(head["topic"]), body, found)
        except Exception as exc:  # Stripe away (or a bug): this aggregate waits, others go on
            return exc
        return body

    async def _settle(self, conn: Any, head: Any, body: str | Exception) -> None:
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
            return
        if await repository.release(conn, head["id"], body):
            self.released += 1
            self.outbox.wake()

    async def _wait(self) -> None:
        async with (await self.store.connection_pool()).acquire() as conn:
            due_in = await repository.seconds_to_next_due(conn)
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
