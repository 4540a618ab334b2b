"""``make bench``: under the machine-wide stack lock, start the embedded infrastructure and
each benchmarked piece, run the benchmarks at their target loads (the webhook → revenue
pipeline scaled out and paced, webhook-ingest side by side with dj-stripe, then the
month-start storm on a stack of its own), print the figures. Nothing is left running."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import djstripe as djstripe_bench
from bench.end_to_end_latency import bench_end_to_end_latency
from bench.invoice_states import bench_invoice_states
from bench.month_start_storm import STORM_STATE, bench_month_start_storm
from bench.scale_out import bench_scale_out
from bench.tooling import locked_stack, machine_reference
from billing_devstack import Stack


def _bench_module(name: str) -> ModuleType:
    """A bench script by file (``bench/webhook_ingest.py`` shares the service's name)."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ingest_bench = _bench_module("webhook_ingest")
emulator_bench = _bench_module("stripe_emulator")
relay_bench = _bench_module("outbox_relay")

SECRET = "whsec_bench_platform"


def bench_webhook_ingest(stack: Stack, workers: int, rates: list[float], seconds: float) -> None:
    process, base_url = ingest_bench.start_service(stack, workers, SECRET)
    try:
        for rate in rates:
            args = ingest_bench.parse_args(
                [
                    "--url",
                    base_url,
                    "--secret",
                    SECRET,
                    "--kafka",
                    stack.infra.kafka_bootstrap,
                    "--rate",
                    str(rate),
                    "--seconds",
                    str(seconds),
                ]
            )
            result = asyncio.run(ingest_bench.run(args))
            print(json.dumps({"bench": "webhook-ingest", "workers": workers, **result}))
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "2")))
    parser.add_argument("--rates", default="1000,1500,2000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--djstripe-rates",
        default="25,50,100,200,400,800,1600,2000,2500,3000",
        help="offered rates of the dj-stripe side by side (empty: skip it)",
    )
    args = parser.parse_args()
    print(json.dumps(machine_reference()), flush=True)
    with locked_stack("make bench") as stack:
        run_benchmarks(stack, args)
    print("== month-start storm: 2,000 subscriptions on 20 accounts renewing at one tick")
    with locked_stack("make bench", state=STORM_STATE) as stack:
        bench_month_start_storm(stack)


def run_benchmarks(stack: Stack, args: argparse.Namespace) -> None:
    assert stack.infra.stripe_api_base is not None
    print("== Stripe emulator")
    asyncio.run(emulator_bench.run(stack.infra.stripe_api_base, 5000, 16))
    # Before the benches below fill the topics every service's consumers would then read.
    print("== webhook → client portal, each invoice state")
    bench_invoice_states(stack, rounds=20)
    print("== outbox relay")
    relay_bench.bench_relay(stack.infra)
    print("== webhook-ingest")
    rates = [float(rate) for rate in args.rates.split(",")]
    bench_webhook_ingest(stack, args.workers, rates, args.seconds)
    print("== revenue")
    revenue_bench = _bench_module("revenue")
    revenue_bench.bench_summary(stack.infra, 1_000_000, 10_000, 200)
    revenue_bench.bench_webhook_to_summary(stack)
    print("== webhook → revenue pipeline: 1 vs 2 replicas, then latency at 500 and 1,000 events/s")
    scaled = bench_scale_out(stack, shops=12, invoices=1500)
    for rate in (500.0, 1000.0):
        bench_end_to_end_latency(stack, rate=rate, seconds=60.0, accounts=12)
    if args.djstripe_rates:
        print("== dj-stripe side by side")
        side_args = ["--workers", str(args.workers), "--rates", args.djstripe_rates]
        side = djstripe_bench.run(stack, djstripe_bench.parse_args(side_args))
        print(json.dumps(end_to_end_ratio(scaled[0], side)), flush=True)


def end_to_end_ratio(ours: dict[str, Any], side: dict[str, Any]) -> dict[str, Any]:
    """dj-stripe processes each webhook before answering, so the rate it sustains is already
    webhook → its tables; ours is webhook → ledger (one replica of each service)."""
    theirs = side["djstripe"]["sustained_per_s"]
    return {
        "bench": "djstripe-end-to-end",
        "webhook_to_ledger_per_s": ours["events_per_s"],
        "djstripe_sustained_per_s": theirs,
        "ratio": round(ours["events_per_s"] / max(theirs, 1e-9), 1),
    }


if __name__ == "__main__":
    main()
