"""Revenue summary latency over a large ledger: 1,000,000 entries across 10,000 workspaces
of one agency over twelve months, asked for through the running service's HTTP API.

The ledger is loaded with set-based SQL, then the migration that introduced the rollups
builds them from it (exactly the sums the consumer keeps per agency, workspace and UTC
year, month and day). Then the owner's summary is requested over a year, a month, days of
a month and a period with edge days, with the default page of workspaces, and over the year
with all 10,000 workspaces listed; p50/p95/p99 are printed. The summary reads only the
rollups, so its cost follows the rows of the period's spans (one per workspace for a year
or a month), not the ledger. Then, with webhook-ingest and revenue running against the
emulator, one-off payments are made one at a time and the time until the summary counts
each is printed. Bounded: it stops after the requests and payments.

    uv run python -m bench.revenue --entries 1000000 --workspaces 10000 --requests 200 --payments 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import httpx

from billing_devstack import Infra, Stack, default_state_dir, free_port
from billing_devstack import services as devstack_services
from billing_kit.migrations import upgrade
from tests.helpers.databases import connect, create_database, migrate, migrations_dir
from tests.helpers.revenue.money import new_workspace_id, open_shop
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import TEST_JWT_SECRET, Tokens

AGENCY = "agency-bench"
YEAR = 2026
PERIODS = (
    {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"},  # a year: one row per workspace
    {"from": f"{YEAR}-06-01", "to": f"{YEAR}-06-30"},  # a month: one row per workspace
    {"from": f"{YEAR}-06-10", "to": f"{YEAR}-06-24"},  # days of a month
    {"from": f"{YEAR}-03-15", "to": f"{YEAR}-09-14"},  # edge days and whole months
    {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31", "workspaces_limit": "10000"},  # all
)

LOAD_LEDGER = """
INSERT INTO revenue.ledger_entries (
    entry_id, kind, agency_id, workspace_id, invoice_id, charge_id, source_id,
    stripe_account_id, currency, gross_cents, stripe_fee_cents, platform_fee_cents,
    net_cents, occurred_at)
SELECT 'txn_bench_' || n,
       CASE WHEN n % 20 = 0 THEN 'refund' ELSE 'charge' END,
       $1, 'ws-' || (n % $3), 'in_bench_' || n, 'ch_bench_' || n, 'ch_bench_' || n,
       'acct_bench', 'usd', amount, stripe_fee, platform_fee,
       amount - stripe_fee - platform_fee,
       make_timestamptz($4, 1 + (n / $3) % 12, 1 + n % 28, n % 24, 0, 0, 'UTC')
FROM (
    SELECT n,
           CASE WHEN n % 20 = 0 THEN -2000 ELSE 5000 + n % 100000 END AS amount,
           CASE WHEN n % 20 = 0 THEN 0 ELSE 30 + (5000 + n % 100000) * 29 / 1000 END
               AS stripe_fee,
           CASE WHEN n % 20 = 0 THEN 0 ELSE (5000 + n % 100000) * 5 / 1000 END AS platform_fee
    FROM generate_series(1, $2) AS n
) AS movements
"""

ROLLUPS_FROM = "0003"
"""The revision before the one that builds the rollups from the ledger."""


async def load(database_url: str, entries: int, workspaces: int) -> None:
    """The ledger, then the rollups as the migration that introduced them builds them from
    it (exactly the sums the consumer keeps)."""
    await asyncio.to_thread(upgrade, migrations_dir("revenue"), database_url, ROLLUPS_FROM)
    conn = await connect(database_url)
    try:
        started = time.perf_counter()
        await conn.execute(LOAD_LEDGER, AGENCY, entries, workspaces, YEAR)
        await asyncio.to_thread(migrate, database_url, ["revenue"])
        for table in ("workspace_rollups", "agency_rollups"):
            await conn.execute(f"VACUUM ANALYZE revenue.{table}")
        rollups = await conn.fetchval("SELECT count(*) FROM revenue.workspace_rollups")
        print(
            f"loaded   {entries:,} ledger entries, {rollups:,} workspace rollup rows "
            f"in {time.perf_counter() - started:.1f}s"
        )
    finally:
        await conn.close()


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def measure(base_url: str, params: dict[str, str], requests: int) -> dict[str, Any]:
    owner = Tokens(secret=TEST_JWT_SECRET).headers("owner", AGENCY)
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for _ in range(5):  # warm the connection pools and caches
            await client.get("/v1/revenue/summary", params=params, headers=owner)
        body: dict[str, Any] = {}
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get("/v1/revenue/summary", params=params, headers=owner)
            samples.append((time.perf_counter() - started) * 1000)
            body = response.json()
    return {
        "period": f"{params['from']}..{params['to']}",
        "workspaces_limit": params.get("workspaces_limit", "default"),
        "workspaces": len(body["workspaces"]),
        "months": len(body["months"]),
        "requests": requests,
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "p99_ms": round(_percentile(samples, 0.99), 1),
    }


def bench_summary(infra: Infra, entries: int, workspaces: int, requests: int) -> None:
    """Measure on running infrastructure, in a database of its own."""
    database_url = asyncio.run(create_database(infra.database_url, "bench_revenue"))
    asyncio.run(load(database_url, entries, workspaces))
    port = free_port()
    bench_infra = Infra(database_url, infra.kafka_bootstrap, infra.stripe_api_base)
    env = bench_infra.service_env(
        {
            **os.environ,
            "REVENUE_PORT": str(port),
            "GATEWAY_JWT_SECRET": TEST_JWT_SECRET,
            "LOG_LEVEL": "WARNING",
        }
    )
    state_dir = default_state_dir() / "bench-revenue"
    process = devstack_services.start_service("revenue", env, state_dir, run_migrations=False)
    try:
        for params in PERIODS:
            result = asyncio.run(measure(f"http://127.0.0.1:{port}", params, requests))
            print(json.dumps({"bench": "revenue-summary", "entries": entries, **result}))
    finally:
        process.stop()


async def _paid_to_visible(revenue_url: str, stripe_api_base: str, payments: int) -> list[float]:
    assert stripe_api_base
    sdk = emulator_sdk(stripe_api_base)  # retries a connection the emulator closed
    async with (
        httpx.AsyncClient(base_url=stripe_api_base, timeout=30) as emulator,
        httpx.AsyncClient(base_url=revenue_url, timeout=30) as revenue,
    ):
        shop = await open_shop(sdk, emulator)
        owner = Tokens(secret=TEST_JWT_SECRET).headers("owner", shop.agency_id)
        workspace = new_workspace_id()
        samples: list[float] = []
        gross = 0
        # One payment first, not timed: the services' consumers join their groups on it.
        for _ in range(payments + 1):
            await asyncio.to_thread(shop.one_off, workspace, 10_000)
            paid = time.perf_counter()
            gross += 10_000
            async with asyncio.timeout(60):  # a payment not counted by then is lost
                while True:  # the owner's default view: this year, the payments' year
                    summary = await revenue.get("/v1/revenue/summary", headers=owner)
                    if summary.json()["gross_cents"] == gross:
                        break
                    await asyncio.sleep(0.005)
            samples.append((time.perf_counter() - paid) * 1000)
    return samples[1:]


def bench_webhook_to_summary(stack: Stack, payments: int = 50) -> None:
    """Time from a payment on Stripe to the owner's summary counting it: webhook, ingest,
    Kafka, the ledger consumer (its Stripe reads included), the summary."""
    stack.env = {**os.environ, "GATEWAY_JWT_SECRET": TEST_JWT_SECRET, "LOG_LEVEL": "WARNING"}
    stack.start_services(["webhook-ingest", "revenue"])
    try:
        stack.register_webhooks()
        revenue_url = f"http://127.0.0.1:{devstack_services.spec('revenue').port(stack.env)}"
        assert stack.infra.stripe_api_base is not None
        samples = asyncio.run(_paid_to_visible(revenue_url, stack.infra.stripe_api_base, payments))
    finally:
        stack.stop_service("revenue")
        stack.stop_service("webhook-ingest")
    print(
        json.dumps(
            {
                "bench": "revenue-webhook-to-summary",
                "payments": payments,
                "p50_ms": round(statistics.median(samples), 1),
                "p95_ms": round(_percentile(samples, 0.95), 1),
                "max_ms": round(max(samples), 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--workspaces", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--payments", type=int, default=50)
    args = parser.parse_args()
    stack = Stack(default_state_dir() / "bench")
    stack.start()
    try:
        bench_summary(stack.infra, args.entries, args.workspaces, args.requests)
        bench_webhook_to_summary(stack, args.payments)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
