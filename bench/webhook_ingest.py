"""Ingest rate of webhook-ingest: signed ``invoice.paid`` events at a fixed offered load.

    uv run python bench/webhook_ingest.py --url http://127.0.0.1:8104 --secret whsec_dev_platform \
        --kafka 127.0.0.1:9092 --rate 1000 --seconds 10

Bodies are realistic (Stripe's invoice fixture from vendor/stripe-mock/fixtures3.json, 2-4 KB,
fresh ids per event), signed by hand like Stripe signs them. The load is open-loop: event i is
due at ``start + i / rate`` and its time-to-200 counts from that moment, so a slow service
cannot hide its queueing. Requests are bounded (``rate * seconds``), each with a timeout, and
only loopback targets are accepted. Afterwards the topic is read back: every accepted event
must be there exactly once, and the lag from its 200 to its publication is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, TopicPartition

from billing_devstack import ManagedProcess, Stack, free_port
from billing_devstack import services as devstack_services
from tests.helpers.stripe_fixtures import stripe_fixture

TOPIC = "billing.invoices.v1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def invoice_paid_bodies(count: int, agency_id: str) -> list[tuple[str, bytes]]:
    invoice = stripe_fixture("invoice")
    bodies = []
    for _ in range(count):
        obj = copy.deepcopy(invoice)
        obj.update(
            id=f"in_{uuid.uuid4().hex[:24]}",
            status="paid",
            amount_paid=obj["amount_due"],
            amount_remaining=0,
            metadata={"agency_id": agency_id, "workspace_id": f"ws-{uuid.uuid4().hex[:8]}"},
            hosted_invoice_url="https://invoice.stripe.com/i/acct_bench/test",
        )
        bodies.append(stripe_event("invoice.paid", obj))
    return bodies


def stripe_event(event_type: str, obj: dict[str, Any]) -> tuple[str, bytes]:
    """A Stripe event of ``event_type`` around ``obj`` under a fresh id: (id, JSON body)."""
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2026-06-24.dahlia",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return event_id, json.dumps(event).encode()


def own_agency_group() -> dict[str, str]:
    """Settings giving a webhook-ingest process a consumer group of its own for its agency
    replica (it reads that small topic from the beginning). The embedded broker keeps a
    group's leader after it left when both its workers leave together; the next process of
    that group then never gets partitions (see the README's notes): a process that a bench
    starts and stops under load stays out of the group every other run uses."""
    return {"WEBHOOK_INGEST_CONSUMER_GROUP_PREFIX": f"bench_ingest_{os.urandom(4).hex()}"}


def start_service(
    stack: Stack, workers: int, secret: str, database_url: str | None = None
) -> tuple[ManagedProcess, str]:
    """webhook-ingest with ``workers`` processes on a free port, accepting ``secret`` (on
    ``database_url`` if given, else the stack's database): (its process, its base URL).
    Stop the process when done."""
    port = free_port()
    env = stack.service_env(
        {
            "WEBHOOK_INGEST_PORT": str(port),
            "WEBHOOK_INGEST_WORKERS": str(workers),
            "STRIPE_WEBHOOK_SECRETS": secret,
            "LOG_LEVEL": "WARNING",
            **own_agency_group(),
        }
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    state_dir = stack.state_dir / "bench-webhook-ingest"
    process = devstack_services.start_service("webhook-ingest", env, state_dir)
    return process, f"http://127.0.0.1:{port}"


def sign(body: bytes, secret: str) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class Connection:
    """A minimal HTTP/1.1 keep-alive client, so the load generator costs little CPU."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, signature: str) -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nStripe-Signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        response = await self.reader.readuntil(b"\r\n\r\n")
        status = int(response.split(b" ", 2)[1])
        length = 0
        for line in response.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    accepted: dict[str, float] = field(default_factory=dict)
    """Stripe event id → wall-clock time its 200 came back."""
    failures: dict[str, int] = field(default_factory=dict)
    first_due: float = 0.0
    last_answer: float = 0.0


async def offer_load(
    url: str, secret: str, bodies: list[tuple[str, bytes]], rate: float, connections: int
) -> Outcome:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/stripe/webhooks"
    outcome = Outcome()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(bodies)):
        queue.put_nowait(index)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    wall_offset = time.time() - loop.time()
    outcome.first_due = start + wall_offset

    async def worker() -> None:
        connection = Connection(host, port, path)
        try:
            while not queue.empty():
                index = queue.get_nowait()
                due = start + index / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                event_id, body = bodies[index]
                try:
                    async with asyncio.timeout(10):
                        status = await connection.post(body, sign(body, secret))
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                    connection.close()
                    key = type(exc).__name__
                    outcome.failures[key] = outcome.failures.get(key, 0) + 1
                    continue
                answered = loop.time()
                if status == 200:
                    outcome.latencies.append(answered - due)
                    outcome.accepted[event_id] = answered + wall_offset
                    outcome.last_answer = max(outcome.last_answer, answered + wall_offset)
                else:
                    key = f"HTTP {status}"
                    outcome.failures[key] = outcome.failures.get(key, 0) + 1
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return outcome


async def published(bootstrap: str, wanted: set[str], within: float) -> dict[str, list[float]]:
    """Stripe event id → publication times (ms timestamps of its records) on the topic."""
    seen: dict[str, list[float]] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + within
        found = 0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers or ())
                    stripe_id = headers.get("correlation_id", b"").decode()
                    if stripe_id in wanted:
                        seen.setdefault(stripe_id, []).append(record.timestamp / 1000)
                        found += 1
            if len(seen) == len(wanted) and not batch:
                break
        return seen
    finally:
        await consumer.stop()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def figures(rate: float, events: int, outcome: Outcome) -> dict[str, Any]:
    """Offered and accepted rates and time-to-200 of one step of open-loop load."""
    span = max(outcome.last_answer - outcome.first_due, 1e-9)
    return {
        "offered_per_s": rate,
        "events": events,
        "accepted": len(outcome.accepted),
        "failures": outcome.failures,
        "accepted_per_s": round(len(outcome.accepted) / span, 1),
        "p50_ms": round(percentile(outcome.latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(outcome.latencies, 99) * 1000, 1),
        "max_ms": round(max(outcome.latencies, default=float("nan")) * 1000, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    host = urlsplit(args.url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {host}: loopback targets only")
    total = int(args.rate * args.seconds)
    bodies = invoice_paid_bodies(total, f"agency-bench-{uuid.uuid4().hex[:6]}")
    size = statistics.mean(len(body) for _, body in bodies)
    url = args.url.rstrip("/") + "/stripe/webhooks"
    outcome = await offer_load(url, args.secret, bodies, args.rate, args.connections)
    result = {"body_bytes": round(size), **figures(args.rate, total, outcome)}
    if args.kafka:
        wanted = set(outcome.accepted)
        seen = await published(args.kafka, wanted, args.publish_timeout)
        lags = [min(times) - outcome.accepted[event_id] for event_id, times in seen.items()]
        last_published = max((max(times) for times in seen.values()), default=0.0)
        result.update(
            published=len(seen),
            missing=len(wanted - set(seen)),
            published_twice=sum(1 for times in seen.values() if len(times) > 1),
            publish_lag_p50_ms=round(percentile(lags, 50) * 1000, 1),
            publish_lag_p99_ms=round(percentile(lags, 99) * 1000, 1),
            drained_after_last_200_ms=round((last_published - outcome.last_answer) * 1000, 1),
        )
        result["exactly_once"] = result["missing"] == 0 and result["published_twice"] == 0
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("WEBHOOK_INGEST_URL", "http://127.0.0.1:8104")
    )
    parser.add_argument(
        "--secret",
        default=(os.environ.get("STRIPE_WEBHOOK_SECRETS") or "whsec_dev_platform").split(",")[0],
    )
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--rate", type=float, default=1000.0, help="offered events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--publish-timeout", type=float, default=60.0)
    return parser.parse_args(argv)


def main() -> None:
    result = asyncio.run(run(parse_args()))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
