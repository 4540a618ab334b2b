"""What the pipeline benchmarks share: real Stripe events made on the emulator, then replayed
signed to webhook-ingest (webhook → ingest → Kafka → invoicing's mirror and revenue's ledger).

The payments are made on the emulator while no webhook endpoint is registered, so nothing is
delivered while they are made; their events (each connected account's and the platform's)
are then read back from the emulator in the order Stripe made them and offered to
webhook-ingest by the benchmark, signed like Stripe signs them. The consumers read the same
real objects back from the emulator when they need to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.profile_ingest import cpu_snapshot, postgres_tree, tree
from bench.webhook_ingest import Connection, own_agency_group, sign
from billing_contracts.routing import SUBSCRIPTIONS
from billing_devstack import ManagedProcess, Stack, free_port
from billing_devstack import services as devstack_services
from billing_devstack.emulator import forget_webhook_endpoints, webhook_secrets
from tests.helpers.databases import connect
from tests.helpers.revenue.money import Shop, open_shop
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import TEST_JWT_SECRET
from tests.helpers.waiting import eventually

PIPELINE = ("webhook-ingest", "invoicing", "revenue")
"""The services a payment's webhooks pass through on their way to the revenue summary."""
CONSUMERS = ("invoicing", "revenue")
"""Those of them that consume the broker's topics (a replica joins its service's consumer
group)."""
AMOUNT_CENTS = 10_000
_PATHS = ("/stripe/webhooks", "/stripe/webhooks/connect")  # the platform's, connected accounts'


@dataclass(frozen=True)
class Delivery:
    """One Stripe event as webhook-ingest receives it."""

    event_id: str
    path: str  # /stripe/webhooks or /stripe/webhooks/connect
    body: bytes
    stream: str  # the account: one account's events are offered in Stripe's order
    event_type: str
    customer: str | None


@dataclass
class Payments:
    """Paid one-off invoices, or subscriptions whose first invoice was paid, on several
    connected accounts, and their events in order."""

    shops: list[Shop]
    invoices: dict[str, str] = field(default_factory=dict)  # invoice id → workspace id
    subscriptions: dict[str, str] = field(default_factory=dict)  # subscription id → workspace
    workspaces: dict[str, str] = field(default_factory=dict)  # customer id → workspace id
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def agency_ids(self) -> list[str]:
        return [shop.agency_id for shop in self.shops]


@dataclass
class Pipeline:
    """The pipeline's services, each consumer service with ``replicas`` processes (in its one
    consumer group)."""

    stack: Stack
    replicas: int
    processes: list[ManagedProcess] = field(default_factory=list)
    urls: dict[str, list[str]] = field(default_factory=dict)  # service → its replicas' URLs
    groups: dict[str, str] = field(default_factory=dict)  # consumer service → group prefix

    def start(self) -> None:
        self.stack.env = {
            **os.environ,
            "GATEWAY_JWT_SECRET": TEST_JWT_SECRET,
            "LOG_LEVEL": "WARNING",
            # Reconciliation on its production schedule (development checks every account
            # every 5 s, reading all of its balance transactions each time).
            "REVENUE_RECONCILE_EVERY_SECONDS": "900",
            "REVENUE_RECONCILE_SETTLE_SECONDS": "60",
            # One webhook-ingest worker: on two cores shared with the consumer services,
            # Postgres and the broker, a second worker's front door costs the pipeline more
            # than it adds (scale_out --invoices 800, 2026-12-07, events/s: one replica 589 to
            # 631 with two workers, 542 to 707 with one; two replicas 327 to 482 and 463 to
            # 619). On a machine of its own, the front door wants a worker per core
            # (bench/webhook_ingest.py).
            "WEBHOOK_INGEST_WORKERS": os.environ.get("WEBHOOK_INGEST_WORKERS", "1"),
        }
        # Consumer groups of this run's own (the replicas share them), reading from where the
        # topics end now: the embedded broker keeps a group's leader after every process of
        # the group stopped together, and the next process of that group then never gets
        # partitions (the README's notes), so no run joins a group an earlier run left.
        run = os.urandom(3).hex()
        self.groups = {name: f"{name}-bench-{run}" for name in CONSUMERS}
        asyncio.run(start_at_topic_ends(self.stack.infra.kafka_bootstrap, self.groups))
        group = own_agency_group() | {
            f"{name.upper()}_CONSUMER_GROUP_PREFIX": prefix for name, prefix in self.groups.items()
        }
        for replica in range(self.replicas):
            ports = {name: free_port() for name in PIPELINE}
            env = self.stack.service_env(
                {devstack_services.spec(name).port_env: str(port) for name, port in ports.items()}
                | group
            )
            state = self.stack.state_dir / f"bench-replica-{replica}"
            # The consumer services scale by replicas; webhook-ingest, the front door, by its
            # worker processes (one process, ``WEBHOOK_INGEST_WORKERS``, above).
            for name in PIPELINE if replica == 0 else CONSUMERS:
                migrate = replica == 0
                process = devstack_services.start_service(name, env, state, run_migrations=migrate)
                self.processes.append(process)
                self.urls.setdefault(name, []).append(f"http://127.0.0.1:{ports[name]}")

    def wait_caught_up(self, within: float = 600.0) -> float:
        """Until the consumer groups of invoicing and revenue have read every event on their
        topics; seconds waited."""
        bootstrap = self.stack.infra.kafka_bootstrap

        async def caught_up() -> bool:
            return not await unread_events(bootstrap, self.groups)

        began = time.perf_counter()
        asyncio.run(eventually(caught_up, within=within, poll=0.5))
        return time.perf_counter() - began

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system, from ``/proc``) each piece has used so far: the
        pipeline's services (every replica and worker together), Postgres and its backends,
        the broker and the Stripe emulator."""
        groups: dict[str, set[int]] = {}
        for process in self.processes:
            if process.pid is not None:
                groups.setdefault(process.name, set()).update(tree(process.pid))
        groups["postgres"] = postgres_tree(self.stack.state_dir / "pg")
        for name, server in (("broker", self.stack.broker), ("stripe-emulator", self.stack.stripe)):
            managed = getattr(server, "process", None)
            if managed is not None and managed.pid is not None:
                groups[name] = tree(managed.pid)
        spent = cpu_snapshot()
        return {
            name: round(sum(spent[pid][1] for pid in pids if pid in spent), 2)
            for name, pids in groups.items()
        }

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def cpu_per_thousand(
    before: dict[str, float], after: dict[str, float], events: int
) -> dict[str, float]:
    """CPU seconds each piece spent per 1,000 events between two readings."""
    return {
        name: round((after[name] - before.get(name, 0.0)) * 1000 / max(events, 1), 3)
        for name in after
    }


async def until(check: Callable[[], Awaitable[bool]], within: float) -> bool:
    """Whether ``check`` came true within ``within`` seconds (asked every 50 ms)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


def _groups_of(prefixes: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """(consumer group, its topics) of each service named in ``prefixes``: a service's
    table is read by one consumer group, named ``<prefix>``."""
    for service, prefix in prefixes.items():
        topics = [s.topic.name for s in SUBSCRIPTIONS if s.service == service]
        if topics:
            yield prefix, list(dict.fromkeys(topics))


@contextlib.asynccontextmanager
async def _offsets_of(
    bootstrap: str, group: str, topics: Sequence[str]
) -> AsyncIterator[tuple[AIOKafkaConsumer, dict[TopicPartition, int]]]:
    """A consumer of ``group`` that never joins it (nothing subscribed), and where each
    partition of ``topics`` ends now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fresh metadata
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        yield consumer, await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()


async def start_at_topic_ends(bootstrap: str, prefixes: dict[str, str]) -> None:
    """Commit the new groups' offsets where their topics end: they read only what comes next
    (a topic not made yet is read from its start)."""
    for group, topics in _groups_of(prefixes):
        async with _offsets_of(bootstrap, group, topics) as (consumer, ends):
            if ends:
                consumer.assign(list(ends))
                await consumer.commit(ends)


async def unread_events(bootstrap: str, prefixes: dict[str, str]) -> int:
    """Events on the services' topics not yet committed by their consumer groups."""
    unread = 0
    for group, topics in _groups_of(prefixes):
        async with _offsets_of(bootstrap, group, topics) as (consumer, ends):
            for partition, end in ends.items():
                unread += max(0, end - (await consumer.committed(partition) or 0))
    return unread


def make_payments(stack: Stack, shops: int, invoices: int, threads: int = 8) -> Payments:
    """``invoices`` paid one-off invoices spread over ``shops`` new connected accounts, one
    workspace each, and every event they caused (read back from the emulator)."""
    payments, made = _make(
        stack, shops, invoices, "payments", lambda shop, ws: shop.one_off(ws, AMOUNT_CENTS), threads
    )
    payments.invoices = made
    return payments


def make_subscriptions(stack: Stack, shops: int, subscriptions: int, threads: int = 8) -> Payments:
    """``subscriptions`` monthly subscriptions of ``AMOUNT_CENTS`` (each paid by card, its first
    invoice charged at once) spread over ``shops`` new connected accounts, one workspace each,
    and every event they caused (read back from the emulator)."""
    payments, made = _make(
        stack,
        shops,
        subscriptions,
        "subscriptions",
        lambda shop, ws: shop.subscription(ws, AMOUNT_CENTS),
        threads,
    )
    payments.subscriptions = made
    return payments


def _make(
    stack: Stack, shops: int, count: int, what: str, make: Callable[[Shop, str], str], threads: int
) -> tuple[Payments, dict[str, str]]:
    """``count`` objects made by ``make`` (for a new workspace, on one of ``shops`` new
    connected accounts, in turn) and every event they caused; what each made → its
    workspace."""
    api_base = stack.infra.stripe_api_base
    assert api_base is not None
    # Earlier benches of the same run register webhook-ingest with the emulator and stop it:
    # the emulator would retry every event made here in vain, on the pipeline's two cores
    # (0.65 CPU s per 1,000 events instead of 0.09 in `make bench` 2026-12-07).
    forget_webhook_endpoints(api_base)
    began = time.monotonic()
    started = emulator_now(api_base) - 1
    sdk = emulator_sdk(api_base)  # retries a connection the emulator closed

    async def opened() -> list[Shop]:
        async with httpx.AsyncClient(base_url=api_base, timeout=30) as emulator:
            return [await open_shop(sdk, emulator) for _ in range(shops)]

    payments = Payments(asyncio.run(opened()))

    def one(index: int) -> tuple[str, str]:
        workspace_id = f"ws-bench-{index}-{os.urandom(4).hex()}"
        return make(payments.shops[index % shops], workspace_id), workspace_id

    with ThreadPoolExecutor(threads) as pool:
        made = dict(pool.map(one, range(count)))
    payments.deliveries = events_since(api_base, payments.shops, started)
    print(
        f"made {count:,} {what} ({len(payments.deliveries):,} events) "
        f"in {time.monotonic() - began:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    for delivery in payments.deliveries:
        if delivery.event_type == "customer.created":
            obj = orjson.loads(delivery.body)["data"]["object"]
            payments.workspaces[obj["id"]] = obj["metadata"]["workspace_id"]
    return payments, made


def emulator_now(api_base: str) -> int:
    """The emulator's clock (ahead of the wall clock once it was advanced)."""
    return int(httpx.get(f"{api_base}/_emulator/clock", timeout=30).json()["now"])


def events_since(api_base: str, shops: Iterable[Shop], since: int) -> list[Delivery]:
    """Every event of the shops' connected accounts, then of the platform, made since
    ``since`` (emulator time), each account's oldest first."""
    found: list[Delivery] = []
    for shop in shops:
        found += _deliveries(api_base, shop.account_id, since, _PATHS[1])
    return found + _deliveries(api_base, None, since, _PATHS[0])


def _deliveries(api_base: str, account: str | None, since: int, path: str) -> list[Delivery]:
    """The account's events since ``since`` as Stripe sent them (raw JSON), oldest first."""
    headers = {"Authorization": "Bearer sk_test_emulator"}
    if account:
        headers["Stripe-Account"] = account
    newest_first: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100, "created[gte]": since}
    with httpx.Client(base_url=api_base, headers=headers, timeout=30) as client:
        while True:
            page = client.get("/v1/events", params=params).json()
            newest_first += page["data"]
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
    found = []
    for event in reversed(newest_first):
        obj = event["data"]["object"]
        customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
        body = orjson.dumps(event)
        found.append(
            Delivery(event["id"], path, body, account or "platform", event["type"], customer)
        )
    return found


def secret_for(stack: Stack, path: str) -> str:
    platform_secret, connect_secret = webhook_secrets(stack.env or os.environ)
    return connect_secret if path.endswith("/connect") else platform_secret


async def offer_in_streams(
    stack: Stack, urls: Sequence[str], deliveries: Iterable[Delivery]
) -> dict[str, int]:
    """As fast as webhook-ingest answers: one sender per account, each in Stripe's order, its
    requests spread over ``urls`` (the ingest replicas). Answers by status."""
    streams: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        streams.setdefault(delivery.stream, []).append(delivery)
    answers: dict[str, int] = {}

    async def send(index: int, stream: list[Delivery]) -> None:
        connections = {(url, path): _connection(url, path) for url in urls for path in _PATHS}
        try:
            for number, delivery in enumerate(stream):
                connection = connections[urls[(index + number) % len(urls)], delivery.path]
                secret = secret_for(stack, delivery.path)
                async with asyncio.timeout(30):
                    status = await connection.post(delivery.body, sign(delivery.body, secret))
                answers[str(status)] = answers.get(str(status), 0) + 1
        finally:
            for connection in connections.values():
                connection.close()

    await asyncio.gather(*(send(i, stream) for i, stream in enumerate(streams.values())))
    return answers


def _connection(url: str, path: str) -> Connection:
    host, _, port = url.removeprefix("http://").partition(":")
    return Connection(host, int(port), path)


async def rows_of(database_url: str, query: str, *args: Any) -> list[Any]:
    """``query``'s rows, read on a connection of its own (the services' tables are other
    processes')."""
    conn = await connect(database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def ledger_entries(database_url: str, agency_ids: list[str]) -> int:
    query = "SELECT count(*) FROM revenue.ledger_entries WHERE agency_id = ANY($1::text[])"
    [row] = await rows_of(database_url, query, agency_ids)
    return int(row[0])


async def mirror_states(database_url: str, invoice_ids: list[str]) -> dict[str, int]:
    """Invoices of the mirror by status (each was last told ``paid``)."""
    rows = await rows_of(
        database_url,
        "SELECT status, count(*) AS n FROM invoicing.invoices"
        " WHERE stripe_invoice_id = ANY($1::text[]) GROUP BY status",
        invoice_ids,
    )
    return {row["status"]: int(row["n"]) for row in rows}


def consumed_outcomes(urls: Iterable[str]) -> dict[str, float]:
    """``events_consumed_total`` summed by outcome over the given services' /metrics, and
    ``conflicts``: transactions Postgres undid for a conflict with another (each applied
    again)."""
    totals: dict[str, float] = {}
    for url in urls:
        for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
            labels, _, value = line.partition("} ")
            if line.startswith("events_consumed_total{"):
                outcome = labels.split('outcome="')[1].split('"')[0]
                totals[outcome] = totals.get(outcome, 0.0) + float(value)
            elif line.startswith("consumer_transaction_conflicts_total{"):
                totals["conflicts"] = totals.get("conflicts", 0.0) + float(value)
            elif line.startswith(
                ("consumer_transaction_events_sum{", "consumer_transaction_events_count{")
            ):
                kind = "events_read" if "_sum{" in line else "transactions"
                totals[kind] = totals.get(kind, 0.0) + float(value)
    return totals


def events_per_transaction(before: dict[str, float], after: dict[str, float]) -> float | None:
    """Events the consumers read per transaction between two ``consumed_outcomes``."""
    transactions = after.get("transactions", 0.0) - before.get("transactions", 0.0)
    events = after.get("events_read", 0.0) - before.get("events_read", 0.0)
    return round(events / transactions, 1) if transactions else None
