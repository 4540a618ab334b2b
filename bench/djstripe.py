"""webhook-ingest side by side with dj-stripe: the same signed events, one run, one machine.

    uv run python -m bench.djstripe --rates 25,50,100,200,400,800,1600,2000,2500,3000 --seconds 8

dj-stripe 2.11 on Django 5.2 (PyPI) runs in its own environment, created here under
``.devstack/bench/djstripe`` with uv, so its Django and ``stripe`` pins never enter this
repository's lock. It is set up as its documentation says (Postgres, its own database on the
embedded server, migrations applied, the webhook endpoint created on Stripe and synced into
its ``WebhookEndpoint`` model with the secret Stripe returned) and served by gunicorn with
as many worker processes as webhook-ingest. Its view verifies the signature, then re-fetches
each event's object from Stripe (here the emulator) synchronously before answering.

The events are real: customers, paid invoices and their charges are created in the emulator
first, and each event (``customer.updated``, ``invoice.paid``, ``charge.succeeded``) carries a
snapshot of one of them under a fresh event id, so dj-stripe's re-fetch succeeds. Each step of
the ladder posts the same bodies, signed with the same secret, to both. Load is open-loop
(``bench/webhook_ingest.py``'s generator); a target stops climbing after its first step that
is not fully accepted. Afterwards each side's event table is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench import webhook_ingest as load
from bench.ladder import Ladder, side_figures
from bench.tooling import ensure_venv, locked_stack
from billing_devstack import ManagedProcess, Stack, free_port, repo_root

PINS = ["dj-stripe==2.11.*", "django==5.2.*", "psycopg[binary]==3.*", "gunicorn>=23"]
API_KEY = "sk_test_" + "bench0djstripe0side0by0side"
DATABASE = "djstripe_bench"
INGEST_DATABASE = "ingest_side_by_side"
EVENT_TYPES = {
    "customer": "customer.updated",
    "invoice": "invoice.paid",
    "charge": "charge.succeeded",
}


# ---- dj-stripe's environment and site ------------------------------------------------------


def asyncpg_dsn(database_url: str, database: str | None = None) -> str:
    """``postgresql+asyncpg://…/billing`` → plain DSN, optionally on another database."""
    parts = urlsplit(database_url.replace("+asyncpg", ""))
    path = f"/{database}" if database else parts.path
    return parts._replace(path=path).geturl()


def on_database(database_url: str, database: str) -> str:
    """The same server's URL, on another database."""
    return urlsplit(database_url)._replace(path=f"/{database}").geturl()


async def recreate_database(database_url: str, database: str) -> None:
    """An empty ``database`` on the server of ``database_url``: each run starts clean."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {database}")
    finally:
        await connection.close()


@dataclass
class DjStripeSite:
    """The Django project in ``bench/djstripe_site`` served by gunicorn on a free port."""

    bin_dir: Path
    database_url: str
    api_base: str
    state_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        database = urlsplit(self.database_url)
        return {
            "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(repo_root()),
            "DJANGO_SETTINGS_MODULE": "bench.djstripe_site.settings",
            "DJSTRIPE_DB_NAME": DATABASE,
            "DJSTRIPE_DB_USER": database.username or "postgres",
            "DJSTRIPE_DB_HOST": database.hostname or "127.0.0.1",
            "DJSTRIPE_DB_PORT": str(database.port or 5432),
            "STRIPE_API_BASE": self.api_base,
            "STRIPE_TEST_SECRET_KEY": API_KEY,
        }

    def prepare(self) -> dict[str, str]:
        """Fresh database, migrations, the endpoint registered: {uuid, secret, url}."""
        asyncio.run(recreate_database(self.database_url, DATABASE))
        done = subprocess.run(
            [str(self.bin_dir / "python"), "-m", "bench.djstripe_site.prepare", self.base_url],
            env=self.env(),
            cwd=repo_root(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dj-stripe setup failed:\n{done.stdout}\n{done.stderr}")
        endpoint: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
        return endpoint

    def start(self, workers: int, threads: int) -> None:
        argv = [
            str(self.bin_dir / "gunicorn"),
            f"--workers={workers}",
            "--worker-class=gthread",
            f"--threads={threads}",
            "--keep-alive=75",  # the load generator keeps its connections open
            f"--bind=127.0.0.1:{self.port}",
            "--log-level=warning",
            "django.core.wsgi:get_wsgi_application()",
        ]
        log = self.state_dir / "logs" / "djstripe-gunicorn.log"
        self.process = ManagedProcess(
            "djstripe", argv, log, env=self.env(), cwd=repo_root()
        ).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/", timeout=2).status_code == 404:
                    return
            if not self.process.running:
                break
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer; see {log}:\n{self.process.tail()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


# ---- real objects in the emulator and events around them ----------------------------------


async def seed_objects(api_base: str, customers: int) -> list[dict[str, Any]]:
    """Customers, each with a paid one-off invoice (hence a charge): their current snapshots."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=api_base, headers=headers, timeout=30) as client:

        async def post(path: str, data: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(path, data=data)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        async def one(index: int) -> list[dict[str, Any]]:
            metadata = {
                "metadata[agency_id]": "agency-bench",
                "metadata[workspace_id]": f"ws-{index}",
            }
            customer = await post("/v1/customers", {"name": f"Client {index}", **metadata})
            cid = customer["id"]
            card = await post("/v1/payment_methods/pm_card_visa/attach", {"customer": cid})
            item = {"customer": cid, "amount": 1000 + index, "currency": "usd"}
            await post("/v1/invoiceitems", item)
            invoice = await post(
                "/v1/invoices",
                {
                    "customer": cid,
                    "auto_advance": "false",
                    "pending_invoice_items_behavior": "include",
                    **metadata,
                },
            )
            await post(f"/v1/invoices/{invoice['id']}/finalize", {})
            paid = await post(f"/v1/invoices/{invoice['id']}/pay", {"payment_method": card["id"]})
            return [await get(client, f"/v1/customers/{cid}"), paid]

        found: list[dict[str, Any]] = []
        for batch in await asyncio.gather(*(one(i) for i in range(customers))):
            found.extend(batch)
        charges = await get(client, "/v1/charges", {"limit": "100"})
        found.extend(charge for charge in charges["data"] if charge["status"] == "succeeded")
        return found


async def get(
    client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.get(path, params=params)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def events_for(objects: list[dict[str, Any]], count: int) -> list[tuple[str, bytes]]:
    """``count`` events cycling over ``objects`` (each under a fresh event id)."""
    return [
        load.stripe_event(EVENT_TYPES[obj["object"]], obj)
        for obj in (objects[i % len(objects)] for i in range(count))
    ]


# ---- counting afterwards -------------------------------------------------------------


async def count_rows(dsn: str, table: str, ids: list[str]) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        query = f"SELECT count(*) FROM {table} WHERE id = ANY($1::text[])"
        found: int = await connection.fetchval(query, ids)
        return found
    finally:
        await connection.close()


async def failures(dsn: str) -> dict[str, int]:
    """dj-stripe's own record of requests it could not process: exception → count."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT left(exception, 120) AS exception, count(*) AS n"
            " FROM djstripe_webhookeventtrigger WHERE exception <> '' GROUP BY 1 ORDER BY 2 DESC"
        )
        return {row["exception"]: row["n"] for row in rows[:5]}
    finally:
        await connection.close()


async def synced_objects(dsn: str) -> dict[str, int]:
    """Rows of the objects dj-stripe re-fetched and stored (not only its event rows)."""
    connection = await asyncpg.connect(dsn)
    try:
        found = {}
        for table in ("customer", "invoice", "charge"):
            found[table] = int(await connection.fetchval(f"SELECT count(*) FROM djstripe_{table}"))
        return found
    finally:
        await connection.close()


async def figures_read(dsn: str, within: float = 60.0) -> int:
    """Wait (bounded) while webhook-ingest reads the charges' figures from Stripe after
    answering, so that nothing is left held for the next run; how many are still held."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within
        while True:
            held: int = await connection.fetchval("SELECT count(*) FROM webhook_ingest.enrichments")
            if held == 0 or time.monotonic() > deadline:
                return held
            await asyncio.sleep(1.0)
    finally:
        await connection.close()


async def settle(dsn: str, within: float = 120.0) -> int:
    """Wait until dj-stripe's trigger table stops growing (requests the load generator gave up
    on are still being processed); its row count."""
    connection = await asyncpg.connect(dsn)
    try:
        last, still = -1, 0
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and still < 3:
            now: int = await connection.fetchval(
                "SELECT count(*) FROM djstripe_webhookeventtrigger"
            )
            still = still + 1 if now == last else 0
            last = now
            await asyncio.sleep(1.0)
        return last
    finally:
        await connection.close()


def side_by_side(
    stack: Stack, *, workers: int, threads: int, rates: list[float], seconds: float, customers: int
) -> dict[str, Any]:
    """Both targets up the same ladder; the figures of each step and the summary."""
    infra = stack.infra
    assert infra.stripe_api_base is not None, "the side by side needs the Stripe emulator"
    bin_dir = ensure_venv(repo_root() / ".devstack" / "bench" / "djstripe", PINS)
    objects = asyncio.run(seed_objects(infra.stripe_api_base, customers))
    ladder = Ladder(rates, seconds, lambda count: events_for(objects, count))
    site = DjStripeSite(bin_dir, infra.database_url, infra.stripe_api_base, stack.state_dir)
    endpoint = site.prepare()
    secret = endpoint["secret"]
    djstripe_dsn = asyncpg_dsn(infra.database_url, DATABASE)
    try:
        site.start(workers, threads)
        theirs, their_ids = ladder.climb("dj-stripe", endpoint["url"], secret)
        triggers = asyncio.run(settle(djstripe_dsn))
    finally:
        site.stop()
    # webhook-ingest on a database of its own, made afresh: what this run leaves (events,
    # figures still to read) never reaches the stack's database or the next run.
    asyncio.run(recreate_database(infra.database_url, INGEST_DATABASE))
    our_url = on_database(infra.database_url, INGEST_DATABASE)
    our_dsn = asyncpg_dsn(our_url)
    process, base_url = load.start_service(stack, workers, secret, our_url)
    try:
        ours, our_ids = ladder.climb("webhook-ingest", f"{base_url}/stripe/webhooks", secret)
        held = asyncio.run(figures_read(our_dsn))
    finally:
        process.stop()
    summary: dict[str, Any] = {
        "bench": "djstripe-side-by-side",
        "workers": workers,
        "djstripe_threads_per_worker": threads,
        "objects_in_emulator": len(objects),
        "djstripe": {
            **side_figures(theirs, their_ids),
            "webhook_triggers": triggers,
            "processing_errors": asyncio.run(failures(djstripe_dsn)),
            "objects_synced": asyncio.run(synced_objects(djstripe_dsn)),
            "events_stored": asyncio.run(count_rows(djstripe_dsn, "djstripe_event", their_ids)),
        },
        "webhook_ingest": {
            **side_figures(ours, our_ids),
            "events_stored": asyncio.run(
                count_rows(our_dsn, "webhook_ingest.stripe_events", our_ids)
            ),
            "still_waiting_for_figures": held,
        },
    }
    summary["ratio"] = round(
        summary["webhook_ingest"]["sustained_per_s"]
        / max(summary["djstripe"]["sustained_per_s"], 1e-9),
        1,
    )
    print(json.dumps(summary, indent=1), flush=True)
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--rates", default="25,50,100,200,400,800,1600,2000,2500,3000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--customers", type=int, default=40)
    return parser.parse_args(argv)


def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    rates = [float(rate) for rate in args.rates.split(",")]
    return side_by_side(
        stack,
        workers=args.workers,
        threads=args.threads,
        rates=rates,
        seconds=args.seconds,
        customers=args.customers,
    )


def main() -> None:
    args = parse_args()
    with locked_stack("bench.djstripe") as stack:
        run(stack, args)


if __name__ == "__main__":
    main()
