"""A service SIGKILLed between its Stripe calls and its commit, 20 times across every command
that makes Stripe objects (a product, an agency's connected account, a workspace's first
customer, a client subscription, a one-off invoice, a platform plan, an agency's plan): each
time a replica of the service runs with the crash drill armed for that command
(``<SERVICE>_CRASH_AFTER_STRIPE``), the caller's request dies with it, and Stripe holds
exactly one object carrying the command's id. The caller's retry with the same
``Idempotency-Key``, served by the service without the drill, answers that same object (the
same id, the same Stripe id) and Stripe still holds only it: no orphan, no duplicate. Once
nobody retries, the sweeper of a replica started afterwards completes the command instead."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from billing_devstack import ManagedProcess, free_port
from billing_kit.pending_commands import command_id_of
from tests.helpers.agencies import Agency, known_to_subscriptions, onboarded_agency
from tests.helpers.databases import connect
from tests.helpers.reliability.rig import Rig
from tests.helpers.saas_fees.steps import create_plan, retire
from tests.helpers.tokens import new_agency_id
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import RETAINER, create_product, register_workspace, started

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stress]

Send = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]
"""Sends the command to a replica's client with an ``Idempotency-Key``."""


@dataclass(frozen=True)
class Command:
    """One command that makes Stripe objects, as a test drives and checks it."""

    service: str
    kind: str
    send: Send
    record_id: Callable[[str], Awaitable[str | None]]
    """The id of the command's pending record, given the request's ``Idempotency-Key``."""
    on_stripe: Callable[[str], list[str]]
    """The Stripe ids of the objects of this kind that carry the command's id."""
    answered: Callable[[dict[str, Any]], tuple[str | None, str]]
    """(our id, Stripe id) of the answer; our id is None where the API shows only Stripe's."""


@dataclass(frozen=True)
class Replica:
    """One more process of a service, on a free port, against the stack's database, broker
    and emulator."""

    process: ManagedProcess
    url: str


async def start_replica(rig: Rig, service: str, settings: dict[str, str]) -> Replica:
    prefix = service.upper()
    port = free_port()
    extra = {f"{prefix}_PORT": str(port), f"{prefix}_WORKERS": "1"}
    extra |= {f"{prefix}_{name.upper()}": value for name, value in settings.items()}
    if service == "invoicing":
        extra["INVOICING_RETRY_RUNNER"] = "false"
    process = ManagedProcess(
        f"{service}-replica",
        [sys.executable, "-m", service, "serve"],
        rig.stack.state_dir / "logs" / f"{service}-replica-{port}.log",
        env=rig.stack.service_env(extra),
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=2) as probe:

        async def serving() -> bool:
            assert process.running, process.tail(20)
            try:
                return (await probe.get("/livez")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await eventually(serving, within=90)
        except BaseException:
            process.stop()
            raise
    return Replica(process, url)


@contextlib.asynccontextmanager
async def replicas(
    rig: Rig, service: str, count: int, **settings: str
) -> AsyncIterator[list[Replica]]:
    """``count`` replicas of ``service`` with ``settings`` (``<SERVICE>_<NAME>``), started
    together (a process's start is what takes long here); all stopped on exit."""
    started = await asyncio.gather(
        *(start_replica(rig, service, settings) for _ in range(count)), return_exceptions=True
    )
    running = [r for r in started if isinstance(r, Replica)]
    try:
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield running
    finally:
        for replica in running:
            replica.process.stop()


async def killed_by_the_drill(replica: Replica, command: Command, key: str) -> None:
    """Send ``command`` to a replica armed with the drill for its kind; it dies unanswered."""
    async with httpx.AsyncClient(base_url=replica.url, timeout=30) as client:
        with pytest.raises(httpx.TransportError):
            await command.send(client, key)
    popen = replica.process.popen
    assert popen is not None
    code = await asyncio.to_thread(popen.wait, 10)
    assert code == -signal.SIGKILL, replica.process.tail(20)


async def left_pending(rig: Rig, command: Command, key: str) -> tuple[str, str]:
    """The record the killed request left ``pending`` and the one Stripe object made."""
    record_id = await command.record_id(key)
    assert record_id is not None, "the command's record was not committed before Stripe"
    assert await status_of(rig, command.service, record_id) == "pending"
    made = command.on_stripe(record_id)
    assert len(made) == 1, f"{command.kind}: Stripe holds {made} for {record_id}"
    return record_id, made[0]


async def status_of(rig: Rig, service: str, record_id: str) -> str | None:
    conn = await connect(rig.infra.database_url)
    try:
        query = f"SELECT status FROM {service}.pending_commands WHERE id = $1"
        status: str | None = await conn.fetchval(query, record_id)
        return status
    finally:
        await conn.close()


def by_key(rig: Rig, service: str) -> Callable[[str], Awaitable[str | None]]:
    async def record_id(key: str) -> str | None:
        conn = await connect(rig.infra.database_url)
        try:
            query = f"SELECT id FROM {service}.pending_commands WHERE idempotency_key = $1"
            found: str | None = await conn.fetchval(query, key)
            return found
        finally:
            await conn.close()

    return record_id


def carrying(objects: Any, field: str, value: str) -> list[str]:
    return [
        found.id
        for found in objects.auto_paging_iter()
        if (found.metadata.to_dict() if found.metadata else {}).get(field) == value
    ]


async def kill_then_retry(rig: Rig, armed: Replica, command: Command) -> None:
    """Kill the command once, retry it with the same key on the service without the drill:
    the answer is the object the killed attempt made, alone on Stripe."""
    key = f"kill-{uuid.uuid4().hex}"
    await killed_by_the_drill(armed, command, key)
    record_id, stripe_id = await left_pending(rig, command, key)

    retried = await command.send(rig.clients[command.service], key)
    assert retried.status_code in (200, 201), retried.text
    answer: dict[str, Any] = retried.json()
    ours, theirs = command.answered(answer)
    assert ours in (None, record_id), f"{command.kind}: answered {ours}, recorded {record_id}"
    assert theirs == stripe_id, f"{command.kind}: answered {theirs}, Stripe made {stripe_id}"
    assert command.on_stripe(record_id) == [stripe_id]
    assert await status_of(rig, command.service, record_id) == "done"
    again = await command.send(rig.clients[command.service], key)
    assert command.answered(again.json()) == (ours, theirs)


@dataclass
class World:
    """What the commands need: an agency that bills, one workspace with a customer, one of
    its products, a platform plan, and agencies without a plan."""

    agency: Agency
    workspace_id: str
    product_id: str
    plan_id: str
    unplanned: list[Agency]


async def billing_agency(rig: Rig) -> Agency:
    catalog, bootstrap = rig.clients["catalog"], rig.infra.kafka_bootstrap
    agency = await onboarded_agency(catalog, rig.emulator, rig.tokens, bootstrap)
    return await known_to_subscriptions(rig.infra.database_url, agency)


async def world(rig: Rig) -> World:
    agencies = await asyncio.gather(*(billing_agency(rig) for _ in range(3)))
    agency = agencies[0]
    subscriptions = rig.clients["subscriptions"]
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(rig.clients["catalog"], agency)
    await started(subscriptions, agency, workspace_id, product_id)

    async def invoicing_knows_it() -> bool:  # catalog's profile of the agency reached invoicing
        charged = await one_off(rig.clients["invoicing"], agency, workspace_id, None)
        return charged.status_code == 201

    await eventually(invoicing_knows_it, within=60)
    plan = await create_plan(subscriptions, rig.tokens.headers("platform_operator"))
    return World(agency, workspace_id, product_id, plan["id"], list(agencies[1:]))


async def one_off(
    client: httpx.AsyncClient, agency: Agency, workspace_id: str, key: str | None
) -> httpx.Response:
    return await client.post(
        f"/v1/workspaces/{workspace_id}/invoices",
        json={"description": "Discovery sprint", "amount_cents": 12_300},
        headers={**agency.admin, **({"Idempotency-Key": key} if key else {})},
    )


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def commands(rig: Rig, w: World) -> dict[str, Callable[[], Awaitable[Command]]]:
    """Each command kind, as a fresh command to kill (a new agency, workspace, ... where the
    command exists once per one of those)."""
    sdk, agency = rig.sdk, w.agency
    on_account: Any = {"stripe_account": agency.account_id}
    operator = rig.tokens.headers("platform_operator")

    async def product() -> Command:
        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            body = {**RETAINER, "name": f"Retainer {key[-8:]}"}
            return await client.post("/v1/products", json=body, headers=keyed(agency.admin, key))

        def on_stripe(record_id: str) -> list[str]:
            params: Any = {"limit": 100}
            prices = carrying(
                sdk.v1.prices.list(params=params, options=on_account), "product_id", record_id
            )
            assert len(prices) <= 1, f"prices of product {record_id}: {prices}"
            found = sdk.v1.products.list(params=params, options=on_account)
            return carrying(found, "product_id", record_id)

        return Command(
            "catalog",
            "create_product",
            send,
            by_key(rig, "catalog"),
            on_stripe,
            lambda a: (a["id"], a["stripe_product_id"]),
        )

    async def account() -> Command:
        agency_id = new_agency_id()
        owner = rig.tokens.headers("owner", agency_id)

        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            urls = {"return_url": "https://app.example/r", "refresh_url": "https://app.example/f"}
            return await client.post("/v1/connect/onboarding", json=urls, headers=keyed(owner, key))

        async def record_id(key: str) -> str:
            return command_id_of("account", agency_id)

        def on_stripe(_: str) -> list[str]:
            return carrying(sdk.v1.accounts.list(params={"limit": 100}), "agency_id", agency_id)

        return Command(
            "catalog",
            "create_account",
            send,
            record_id,
            on_stripe,
            lambda a: (None, a["account_id"]),
        )

    async def customer() -> Command:
        workspace_id = await register_workspace(rig.clients["subscriptions"], agency)

        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            return await client.post(
                f"/v1/workspaces/{workspace_id}/subscriptions",
                json={"product_id": w.product_id},
                headers=keyed(agency.admin, key),
            )

        async def record_id(key: str) -> str:
            assert agency.account_id is not None
            return command_id_of("customer", agency.agency_id, workspace_id, agency.account_id)

        def on_stripe(_: str) -> list[str]:
            found = sdk.v1.customers.list(params={"limit": 100}, options=on_account)
            return carrying(found, "workspace_id", workspace_id)

        return Command(
            "subscriptions",
            "create_customer",
            send,
            record_id,
            on_stripe,
            lambda a: (None, a["stripe_customer_id"]),
        )

    def subscriptions_of(record_id: str) -> list[str]:
        params: Any = {"status": "all", "limit": 100}
        found = sdk.v1.subscriptions.list(params=params, options=on_account)
        return carrying(found, "subscription_id", record_id)

    async def subscription() -> Command:
        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            return await client.post(
                f"/v1/workspaces/{w.workspace_id}/subscriptions",
                json={"product_id": w.product_id},
                headers=keyed(agency.admin, key),
            )

        return Command(
            "subscriptions",
            "start_subscription",
            send,
            by_key(rig, "subscriptions"),
            subscriptions_of,
            lambda a: (a["id"], a["stripe_subscription_id"]),
        )

    async def invoice() -> Command:
        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            return await one_off(client, agency, w.workspace_id, key)

        def on_stripe(record_id: str) -> list[str]:
            found = sdk.v1.invoices.list(params={"limit": 100}, options=on_account)
            return carrying(found, "one_off_id", record_id)

        return Command(
            "invoicing",
            "one_off_invoice",
            send,
            by_key(rig, "invoicing"),
            on_stripe,
            lambda a: (None, a["stripe_invoice_id"]),
        )

    async def plan() -> Command:
        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            body = {"name": f"Studio {key[-8:]}", "amount_cents": 4_900, "interval": "month"}
            return await client.post("/v1/platform/plans", json=body, headers=keyed(operator, key))

        def on_stripe(record_id: str) -> list[str]:
            found = sdk.v1.products.list(params={"limit": 100})
            return carrying(found, "platform_plan_id", record_id)

        return Command(
            "subscriptions",
            "create_plan",
            send,
            by_key(rig, "subscriptions"),
            on_stripe,
            lambda a: (a["id"], a["stripe_product_id"]),
        )

    async def agency_plan() -> Command:
        planned = w.unplanned.pop()

        async def send(client: httpx.AsyncClient, key: str) -> httpx.Response:
            path = f"/v1/platform/agencies/{planned.agency_id}/plan"
            return await client.post(
                path, json={"plan_id": w.plan_id}, headers=keyed(operator, key)
            )

        def on_stripe(record_id: str) -> list[str]:
            params: Any = {"customer_account": planned.account_id, "status": "all", "limit": 100}
            return carrying(sdk.v1.subscriptions.list(params=params), "agency_plan_id", record_id)

        return Command(
            "subscriptions",
            "start_agency_plan",
            send,
            by_key(rig, "subscriptions"),
            on_stripe,
            lambda a: (a["id"], a["stripe_subscription_id"]),
        )

    return {
        "product": product,
        "account": account,
        "customer": customer,
        "subscription": subscription,
        "invoice": invoice,
        "plan": plan,
        "agency_plan": agency_plan,
    }


KILLS = {
    "invoice": 3,
    "product": 3,
    "account": 3,
    "customer": 3,
    "subscription": 3,
    "plan": 3,
    "agency_plan": 2,
}
"""Kills followed by the caller's retry, by command kind: 20 in all (an agency has one plan,
so two agencies for those). One-off invoices go first, while subscriptions (which answers
invoicing's question for the workspace's customer) has had no replica die yet."""
SWEPT = "subscription"
"""The kind killed once more with nobody retrying: the sweeper completes it."""


@pytest.mark.timeout(480)
async def test_commands_killed_before_their_commit_end_in_one_object_each(rig: Rig) -> None:
    began = time.monotonic()
    w = await world(rig)
    made = commands(rig, w)
    ready = time.monotonic()
    try:
        for name, kills in KILLS.items():
            batch = [await made[name]() for _ in range(kills)]
            service, kind = batch[0].service, batch[0].kind
            extra = 1 if name == SWEPT else 0  # its armed replica starts with the others
            async with replicas(rig, service, kills + extra, crash_after_stripe=kind) as armed:
                for replica, command in zip(armed, batch, strict=False):
                    await kill_then_retry(rig, replica, command)
                if extra:
                    await swept(rig, armed[-1], await made[name]())
    finally:
        for planned in [w.agency, *w.unplanned]:
            assert planned.account_id is not None
            retire(rig.sdk, planned.account_id)
    print(f"\n{sum(KILLS.values())} kills and retries, 1 kill swept, in "
          f"{time.monotonic() - ready:.1f}s (setup {ready - began:.1f}s)")  # fmt: skip
    assert sum(KILLS.values()) == 20


async def swept(rig: Rig, armed: Replica, command: Command) -> None:
    """Nobody retries: a replica's sweeper completes what the kill left pending; the key's
    retry afterwards answers that same object."""
    key = f"kill-{uuid.uuid4().hex}"
    await killed_by_the_drill(armed, command, key)
    record_id, stripe_id = await left_pending(rig, command, key)
    sweeping = {"command_sweep_after_seconds": "1", "command_sweep_every_seconds": "0.5"}
    async with replicas(rig, command.service, 1, **sweeping):

        async def completed() -> bool:
            return await status_of(rig, command.service, record_id) == "done"

        await eventually(completed, within=60)
    assert command.on_stripe(record_id) == [stripe_id]
    retried = await command.send(rig.clients[command.service], key)
    assert retried.status_code in (200, 201), retried.text
    assert command.answered(retried.json()) == (record_id, stripe_id)
