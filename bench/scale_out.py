"""Scale-out of the webhook → revenue pipeline: the same kind of load with one and with two
processes of each consumer service on the way (invoicing, revenue), the second started with
the same settings on another HTTP port, so it joins the first's consumer groups and shares
the topics' partitions. webhook-ingest, the front door, is one process of one worker in
both runs (``bench.pipeline.Pipeline``: on two shared cores a second worker costs more than
it adds; it scales by workers, ``bench/webhook_ingest.py``).

Paid one-off invoices are made on the emulator over several connected accounts; their real
events are offered signed to webhook-ingest as fast as it answers (one sender per account, in
Stripe's order). Printed: events/s from the first webhook
until the ledger holds every payment, and whether each invoice's states were applied in
order (the mirror's final state is the last one Stripe told, ``paid``, for every invoice, and
no consumer failed or dead-lettered an event).

    uv run python -m bench.scale_out --invoices 1500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterable
from typing import Any

from bench.pipeline import (
    Pipeline,
    consumed_outcomes,
    cpu_per_thousand,
    events_per_transaction,
    ledger_entries,
    make_payments,
    mirror_states,
    offer_in_streams,
    until,
)
from bench.tooling import locked_stack, machine_reference
from billing_devstack import Stack

_OUTCOMES = ("applied", "duplicate", "failed", "dead_lettered", "conflicts")
_CONSUMERS = ("invoicing", "revenue")


def _summed(counts: Iterable[dict[str, float]]) -> dict[str, float]:
    """``consumed_outcomes`` of several services added up (each read once)."""
    total: dict[str, float] = {}
    for each in counts:
        for key, value in each.items():
            total[key] = total.get(key, 0.0) + value
    return total


def measure(stack: Stack, replicas: int, shops: int, invoices: int) -> dict[str, Any]:
    payments = make_payments(stack, shops, invoices)
    database_url = stack.infra.database_url
    pipeline = Pipeline(stack, replicas)
    pipeline.start()
    try:
        caught_up = pipeline.wait_caught_up()
        before_each = {s: consumed_outcomes(pipeline.urls[s]) for s in _CONSUMERS}
        before = _summed(before_each.values())
        cpu_before = pipeline.cpu_seconds()
        began = time.perf_counter()
        ingest = pipeline.urls["webhook-ingest"]
        answers = asyncio.run(offer_in_streams(stack, ingest, payments.deliveries))
        accepted = time.perf_counter() - began

        async def ledger_complete() -> bool:
            return await ledger_entries(database_url, payments.agency_ids) >= invoices

        complete = asyncio.run(until(ledger_complete, within=600))
        elapsed = time.perf_counter() - began
        cpu_after = pipeline.cpu_seconds()
        invoice_ids = list(payments.invoices)

        async def mirror_paid() -> bool:
            states = await mirror_states(database_url, invoice_ids)
            return states.get("paid", 0) == len(invoice_ids)

        asyncio.run(until(mirror_paid, within=120))
        states = asyncio.run(mirror_states(database_url, invoice_ids))
        # Counted once every consumer group has read every event: a count taken while some
        # consumer still lags (the ledger is complete before the mirror's other consumers
        # are) is short by what is in flight, and more so with one replica than two.
        pipeline.wait_caught_up()
        after_each = {s: consumed_outcomes(pipeline.urls[s]) for s in _CONSUMERS}
        after = _summed(after_each.values())
    finally:
        pipeline.stop()
    events = len(payments.deliveries)
    return {
        "bench": "pipeline-scale-out",
        "replicas": replicas,
        "accounts": shops,
        "payments": invoices,
        "events": events,
        "answers": answers,
        "ingest_events_per_s": round(events / accepted),
        "ledger_complete": complete,
        "ledger_entries": asyncio.run(ledger_entries(database_url, payments.agency_ids)),
        "seconds_to_ledger": round(elapsed, 1),
        "events_per_s": round(events / elapsed),
        "earlier_events_read_first_s": round(caught_up, 1),
        "cpu_s_per_1000_events": cpu_per_thousand(cpu_before, cpu_after, events),
        "mirror_states": states,
        "consumer_outcomes": {
            k: after.get(k, 0) - before.get(k, 0) for k in after if k in _OUTCOMES
        },
        "events_per_transaction": {
            service: events_per_transaction(before_each[service], after_each[service])
            for service in _CONSUMERS
        },
        "in_order": states == {"paid": invoices}
        and not any(after.get(k, 0) - before.get(k, 0) for k in ("failed", "dead_lettered")),
    }


def bench_scale_out(stack: Stack, shops: int, invoices: int) -> list[dict[str, Any]]:
    """The figures with 1, then 2 replicas of each service (printed as they come)."""
    results = []
    for replicas in (1, 2):
        results.append(measure(stack, replicas, shops, invoices))
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--invoices", type=int, default=1500)
    args = parser.parse_args()
    print(json.dumps(machine_reference()), flush=True)
    with locked_stack("bench.scale_out") as stack:
        bench_scale_out(stack, args.accounts, args.invoices)


if __name__ == "__main__":
    main()
