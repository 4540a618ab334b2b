"""End-to-end latency at a steady offered rate (``make bench``: 500, then 1,000 events/s for
60 s): from a payment's webhook POST to the payment being counted in the owner's revenue
summary.

Paid one-off invoices are made on the emulator (one workspace each, over ``--accounts``
connected accounts); their real events are then offered signed to webhook-ingest, paced at
``--rate`` events/s (open loop: event i is due at ``start + i / rate``; each account's events
keep Stripe's order, one POST at a time, so 4 accounts could offer only ~390/s where 12 offer
500/s) for about ``--seconds``. Meanwhile every agency's summary is polled; a payment's
latency runs from the POST of its ``charge.succeeded`` to the first summary that lists its
workspace. p50/p95/p99 are printed, and beside them the same payments' time to their ledger
entry (the pipeline alone) and how long the summary reads took (what polling adds).

    uv run python -m bench.end_to_end_latency --rate 500 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from typing import Any

import httpx

from bench.pipeline import Delivery, Payments, Pipeline, make_payments, rows_of, secret_for
from bench.tooling import locked_stack
from bench.webhook_ingest import Connection, percentile, sign
from billing_devstack import Stack
from tests.helpers.tokens import TEST_JWT_SECRET, Tokens

POLL = 0.1
"""Seconds between rounds of summary reads (one per agency): often enough to time latencies
of seconds, seldom enough not to load the two cores the pipeline runs on."""
EVENTS_PER_PAYMENT = 12
"""About how many events one paid one-off invoice makes (to size the payments to the run)."""


def paced(deliveries: list[Delivery]) -> list[Delivery]:
    """Accounts interleaved, each account's events in Stripe's order."""
    streams: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        streams.setdefault(delivery.stream, []).append(delivery)
    merged: list[Delivery] = []
    queues = [list(reversed(stream)) for stream in streams.values()]
    while any(queues):
        for queue in queues:
            if queue:
                merged.append(queue.pop())
    return merged


async def _offer(
    stack: Stack, url: str, deliveries: list[Delivery], rate: float
) -> dict[str, float]:
    """Event id → wall-clock time of its POST (for those answered 200)."""
    host, _, port = url.removeprefix("http://").partition(":")
    posted: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    by_stream: dict[str, list[tuple[int, Delivery]]] = {}
    for index, delivery in enumerate(deliveries):
        by_stream.setdefault(delivery.stream, []).append((index, delivery))

    async def sender(stream: list[tuple[int, Delivery]]) -> None:
        connections = {
            path: Connection(host, int(port), path) for path in {d.path for _, d in stream}
        }
        try:
            for index, delivery in stream:
                delay = start + index / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                at = time.time()
                body, secret = delivery.body, secret_for(stack, delivery.path)
                async with asyncio.timeout(30):
                    status = await connections[delivery.path].post(body, sign(body, secret))
                if status == 200:
                    posted[delivery.event_id] = at
        finally:
            for connection in connections.values():
                connection.close()

    await asyncio.gather(*(sender(stream) for stream in by_stream.values()))
    return posted


async def _watch(
    revenue_url: str,
    payments: Payments,
    seen: dict[str, float],
    told: dict[str, float],
    all_seen: asyncio.Event,
    reads: list[float],
) -> None:
    """Fills ``seen``: workspace → wall-clock time it first appeared in its agency's summary;
    sets ``all_seen`` once every workspace in ``told`` is there. One reader goes round the
    owners' summaries, one read at a time (``reads`` gets each one's seconds): at most one
    read loads the machine the pipeline runs on (a read per owner every ``POLL`` seconds,
    concurrently, cost the pipeline more than the latency it measured)."""
    tokens = Tokens(secret=TEST_JWT_SECRET)
    owners = [tokens.headers("owner", agency_id) for agency_id in payments.agency_ids]
    async with httpx.AsyncClient(base_url=revenue_url, timeout=30) as client:
        while not all_seen.is_set():
            for owner in owners:
                began = time.perf_counter()
                # The owner's default view: this year, the payments' year.
                summary = await client.get("/v1/revenue/summary", headers=owner)
                now = time.time()
                reads.append(time.perf_counter() - began)
                for row in summary.json()["workspaces"]:
                    seen.setdefault(row["workspace_id"], now)
            if told and set(told) <= set(seen):
                all_seen.set()
            await asyncio.sleep(POLL)


async def _run(stack: Stack, pipeline: Pipeline, payments: Payments, rate: float) -> dict[str, Any]:
    deliveries = paced(payments.deliveries)
    seen: dict[str, float] = {}
    told: dict[str, float] = {}  # workspace → POST of its charge.succeeded
    all_seen = asyncio.Event()
    reads: list[float] = []  # seconds each summary read took
    revenue_url = pipeline.urls["revenue"][0]
    watcher = asyncio.create_task(_watch(revenue_url, payments, seen, told, all_seen, reads))
    began = time.perf_counter()
    posted = await _offer(stack, pipeline.urls["webhook-ingest"][0], deliveries, rate)
    offered_for = time.perf_counter() - began
    for delivery in deliveries:
        if delivery.event_type == "charge.succeeded" and delivery.event_id in posted:
            workspace = payments.workspaces[delivery.customer or ""]
            told[workspace] = min(told.get(workspace, float("inf")), posted[delivery.event_id])
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_seen.wait(), timeout=120)
    all_seen.set()
    await watcher
    latencies = [(seen[ws] - at) * 1000 for ws, at in told.items() if ws in seen]
    recorded = await first_recorded(stack.infra.database_url, payments.agency_ids)
    in_ledger = [(recorded[ws] - at) * 1000 for ws, at in told.items() if ws in recorded]
    return {
        "bench": "pipeline-end-to-end-latency",
        "offered_rate": rate,
        "events": len(deliveries),
        "accepted": len(posted),
        "achieved_rate": round(len(deliveries) / offered_for, 1),
        "payments": len(told),
        "counted": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        # The same payments from the POST to their ledger entry's transaction (Postgres'
        # clock): the pipeline alone, without the summary reads' own time.
        "to_ledger_ms": {f"p{n}": round(percentile(in_ledger, n), 1) for n in (50, 95, 99)},
        "summary_read_ms": {
            "p50": round(statistics.median(reads) * 1000, 1),
            "max": round(max(reads) * 1000, 1),
        },
    }


async def first_recorded(database_url: str, agency_ids: list[str]) -> dict[str, float]:
    """Workspace → when its first ledger entry's transaction began (epoch seconds)."""
    rows = await rows_of(
        database_url,
        "SELECT workspace_id, extract(epoch FROM min(recorded_at)) AS at"
        " FROM revenue.ledger_entries WHERE agency_id = ANY($1::text[])"
        " AND workspace_id IS NOT NULL GROUP BY workspace_id",
        agency_ids,
    )
    return {row["workspace_id"]: float(row["at"]) for row in rows}


def bench_end_to_end_latency(
    stack: Stack, rate: float, seconds: float, accounts: int
) -> dict[str, Any]:
    payments = make_payments(stack, accounts, max(1, int(rate * seconds / EVENTS_PER_PAYMENT)))
    pipeline = Pipeline(stack, replicas=1)
    pipeline.start()
    try:
        pipeline.wait_caught_up()
        result = asyncio.run(_run(stack, pipeline, payments, rate))
    finally:
        pipeline.stop()
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--accounts", type=int, default=12)
    args = parser.parse_args()
    with locked_stack("bench.end_to_end_latency") as stack:
        bench_end_to_end_latency(stack, args.rate, args.seconds, args.accounts)


if __name__ == "__main__":
    main()
