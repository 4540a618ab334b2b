"""Where the webhook → revenue pipeline's time goes while a backlog drains: a sampling
profile of the consumer services and the CPU of every process on the machine.

    uv run python -m bench.profile_pipeline --invoices 600 [--replicas 2]

Paid one-off invoices are made on the emulator (``bench/pipeline.py``), webhook-ingest,
invoicing and revenue are started (``--replicas`` processes of each consumer service), and
their real events are offered signed as fast as webhook-ingest answers while ``py-spy``
(in its own environment under ``.devstack/bench/py-spy``) records each service until the
ledger holds every payment.
Printed: the drain's events/s, CPU seconds per process group, and per service the share
of its samples per room (its own handlers, the inbox, SQLAlchemy, asyncpg, Stripe reads,
FastStream); the collapsed stacks are kept for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from pathlib import Path

from bench.pipeline import Pipeline, ledger_entries, make_payments, offer_in_streams
from bench.profile_ingest import Rooms, cpu_snapshot, postgres_tree, rooms, tree
from bench.tooling import ensure_venv, locked_stack
from billing_devstack import repo_root

# Innermost first: the first frame of a sample (from its leaf) that matches decides its room.
ROOMS: Rooms = [
    ("Stripe reads (stripe SDK, httpx)", ("stripe/", "httpx/", "httpcore/")),
    ("asyncpg (protocol, waits)", ("asyncpg/",)),
    ("SQLAlchemy (ORM, compile, greenlets)", ("sqlalchemy/", "sqlmodel/", "greenlet")),
    ("service handlers", ("invoicing/", "revenue/", "webhook_ingest/")),
    ("inbox and outbox (billing_kit)", ("billing_kit/",)),
    ("broker client (aiokafka)", ("aiokafka/", "kafka/")),
    ("FastStream, fast-depends, pydantic", ("faststream/", "fast_depends/", "pydantic")),
    ("telemetry and logs", ("opentelemetry/", "prometheus_client/", "structlog/", "logging/")),
    ("HTTP server (uvicorn)", ("uvicorn/", "starlette/", "fastapi/", "h11/", "httptools")),
    ("event loop and threads", ("asyncio/", "uvloop", "selectors.py", "threading.py")),
]


def record(spy: Path, pid: int, out: Path, seconds: int) -> subprocess.Popen[bytes]:
    # --nonblocking: the services are never paused (native frames count for their caller).
    argv = [str(spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "50"]
    argv += ["--duration", str(seconds), "--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def replica_pids(pipeline: Pipeline) -> dict[str, int]:
    """Each started process by name, a second replica's as ``<service>-2`` and so on."""
    pids: dict[str, int] = {}
    for process in pipeline.processes:
        if process.pid is None:
            continue
        name, n = process.name, 1
        while name in pids:
            n += 1
            name = f"{process.name}-{n}"
        pids[name] = process.pid
    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--invoices", type=int, default=600)
    parser.add_argument("--replicas", type=int, default=1, help="processes per consumer service")
    parser.add_argument("--seconds", type=int, default=40, help="how long py-spy records")
    args = parser.parse_args()
    spy = ensure_venv(repo_root() / ".devstack" / "bench" / "py-spy", ["py-spy==0.4.*"]) / "py-spy"
    with locked_stack("bench.profile_pipeline", state="bench") as stack:
        payments = make_payments(stack, args.accounts, args.invoices)
        pipeline = Pipeline(stack, replicas=args.replicas)
        pipeline.start()
        try:
            services = replica_pids(pipeline)
            groups = {name: tree(pid) for name, pid in services.items()}
            groups["postgres"] = postgres_tree(stack.state_dir / "pg")
            outs = {name: stack.state_dir / f"profile-{name}.txt" for name in services}
            recorders = [
                record(spy, pid, outs[name], args.seconds) for name, pid in services.items()
            ]
            before, began = cpu_snapshot(), time.perf_counter()
            asyncio.run(
                offer_in_streams(stack, pipeline.urls["webhook-ingest"], payments.deliveries)
            )

            async def drained() -> None:
                database_url = stack.infra.database_url
                while True:  # the ledger is another process's: polled
                    if await ledger_entries(database_url, payments.agency_ids) >= args.invoices:
                        return
                    await asyncio.sleep(0.2)

            asyncio.run(drained())
            elapsed, after = time.perf_counter() - began, cpu_snapshot()
            for recorder in recorders:
                recorder.wait()
        finally:
            pipeline.stop()
    events = len(payments.deliveries)
    figures = {"events": events, "seconds": round(elapsed, 1), "per_s": round(events / elapsed)}
    print(json.dumps({"bench": "pipeline-profile", **figures}))
    known = set().union(*groups.values())
    cpu = {name: sum(after[p][1] - before[p][1] for p in pids if p in after and p in before)
           for name, pids in groups.items()}  # fmt: skip
    cpu["everything else"] = sum(
        after[p][1] - before[p][1] for p in after if p in before and p not in known
    )
    print(json.dumps({"cpu_seconds": {name: round(s, 1) for name, s in cpu.items()}}))
    for name, out in outs.items():
        counts = rooms(out.read_text(), ROOMS)
        total = sum(counts.values()) or 1
        print(f"\n| {name}: room | share of samples ({total}) |\n|---|---|")
        for room, count in counts.most_common():
            print(f"| {room} | {100 * count / total:.1f} % |")


if __name__ == "__main__":
    main()
