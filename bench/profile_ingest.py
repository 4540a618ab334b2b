"""Where webhook-ingest's time goes under saturating load: a sampling profile of its workers
and the CPU of every process on the machine over the same window.

    uv run python -m bench.profile_ingest --rate 2600 --seconds 16 --duration 10

Starts Postgres and the broker (no emulator: ``invoice.paid`` needs nothing from Stripe) and
webhook-ingest with 2 workers, offers signed ``invoice.paid`` events open-loop above the
ceiling (``bench/webhook_ingest.py``'s generator), and meanwhile records the workers with
``py-spy`` (installed into its own environment under ``.devstack/bench/py-spy``, never into
this repository's lock) for ``--duration`` seconds, Prints the share
of the workers' samples per room of the service and the CPU seconds per process group
(workers, Postgres, broker, load generator, everything else on the machine); the collapsed
stacks are kept for a flame graph.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from bench import webhook_ingest as load
from bench.tooling import ensure_venv, locked_stack
from billing_devstack import repo_root

SECRET = "whsec_bench_platform"

Rooms = list[tuple[str, tuple[str, ...]]]
"""(room, needles): a sample's room is the first whose needle is in its first frame that has
one, from the leaf."""

# Leaf first: the first frame of a sample that matches decides its room.
ROOMS: Rooms = [
    ("verify signature + parse (HMAC, orjson)", ("verification.py", "hmac.py", "stripe/")),
    ("normalize to the contract event", ("normalize.py", "snapshots.py", "replicas.py")),
    ("outbox relay (aiokafka, batches)", ("aiokafka/", "billing_kit/outbox.py", "kafka/")),
    ("asyncpg (protocol, codecs)", ("asyncpg/",)),
    ("group commit (batching, SQL arrays)", ("webhook_ingest/repository/",)),
    ("enricher", ("enrichment.py",)),
    ("metrics (prometheus-client)", ("prometheus_client/",)),
    ("logging", ("structlog/", "logging/")),
    ("HTTP server (uvicorn, httptools)", ("uvicorn/", "httptools", "h11/")),
    ("fast lane (ASGI, body, answer)", ("fast_lane.py", "service/__init__.py")),
    ("event loop (asyncio, uvloop)", ("asyncio/", "uvloop", "selectors.py", "epoll")),
    ("Python runtime / GC", ("libpython", "python3", "_PyEval", "gc_collect", "PyObject")),
]


def room_of(stack: str, table: Rooms = ROOMS) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for room, needles in table:
            if any(needle in frame for needle in needles):
                return room
    return "other"


def rooms(collapsed: str, table: Rooms = ROOMS) -> Counter[str]:
    """Samples per room of ``table`` from py-spy's raw (collapsed) output:
    ``frame;frame;... count``."""
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[room_of(stack, table)] += int(count)
    return counts


def tree(pid: int) -> set[int]:
    """``pid`` and its descendants."""
    try:
        return {pid} | {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def postgres_tree(data_dir: Path) -> set[int]:
    """This stack's postmaster (found by its data directory) and its backends, not another
    worktree's Postgres."""
    for process in psutil.process_iter(["cmdline"]):
        if str(data_dir) in " ".join(process.info["cmdline"] or ()):
            return tree(process.pid)
    return set()


def process_group(process: psutil.Process, known: dict[int, str]) -> str:
    if process.pid in known:
        return known[process.pid]
    try:
        if "tansu" in " ".join([process.name(), *process.cmdline()[:2]]):
            return "broker (tansu)"
        if process.name() == "py-spy":
            return "py-spy"
    except psutil.Error:
        return "everything else on the machine"
    return "everything else on the machine"


def cpu_snapshot() -> dict[int, tuple[psutil.Process, float]]:
    found = {}
    for process in psutil.process_iter():
        try:
            times = process.cpu_times()
            found[process.pid] = (process, times.user + times.system)
        except psutil.Error:
            continue
    return found


def cpu_by_group(
    before: dict[int, tuple[psutil.Process, float]],
    after: dict[int, tuple[psutil.Process, float]],
    known: dict[int, str],
) -> dict[str, float]:
    groups: dict[str, float] = {}
    for pid, (process, spent) in after.items():
        started = before.get(pid, (process, 0.0))[1]
        group = process_group(process, known)
        groups[group] = groups.get(group, 0.0) + spent - started
    ordered = sorted(groups.items(), key=lambda item: -item[1])
    return {group: round(seconds, 2) for group, seconds in ordered}


async def profile(
    url: str,
    master_pid: int,
    pg_data: Path,
    spy: Path,
    out: Path,
    rate: float,
    seconds: float,
    duration: float,
) -> tuple[dict[str, Any], dict[str, float]]:
    known = {pid: "postgres (this stack)" for pid in postgres_tree(pg_data)}
    known.update({pid: "webhook-ingest (2 workers)" for pid in tree(master_pid)})
    known[psutil.Process().pid] = "load generator"
    bodies = load.invoice_paid_bodies(int(rate * seconds), "agency-profile")
    loader = asyncio.create_task(
        load.offer_load(f"{url}/stripe/webhooks", SECRET, bodies, rate, 64)
    )
    await asyncio.sleep(min(3.0, seconds / 4))  # past the warm-up, into saturation
    before = cpu_snapshot()
    # --nonblocking: the workers are never paused (py-spy cannot unwind native frames then,
    # so time in C extensions such as orjson or hmac counts for their Python caller).
    argv = [str(spy), "record", "--pid", str(master_pid), "--subprocesses"]
    argv += ["--rate", "100", "--duration", str(int(duration)), "--format", "raw"]
    argv += ["--output", str(out), "--nonblocking"]
    with out.with_suffix(".log").open("wb") as log:
        recorder = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=log)
        if await recorder.wait() != 0:
            raise RuntimeError(f"py-spy failed: {out.with_suffix('.log').read_text()}")
    cpu = cpu_by_group(before, cpu_snapshot(), known)
    outcome = await loader
    return load.figures(rate, len(bodies), outcome), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2600.0)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    spy = ensure_venv(repo_root() / ".devstack" / "bench" / "py-spy", ["py-spy==0.4.*"]) / "py-spy"
    # Its own state directory: events held for Stripe's figures by other benchmarks' runs
    # (due, with no emulator here to read them from) would keep the enrichers busy.
    with locked_stack("bench.profile_ingest", state="bench-profile", emulator=False) as stack:
        process, base_url = load.start_service(stack, args.workers, SECRET)
        out = stack.state_dir / "webhook-ingest-profile.txt"
        try:
            assert process.pid is not None
            figures, cpu = asyncio.run(
                profile(
                    base_url,
                    process.pid,
                    stack.state_dir / "pg",
                    spy,
                    out,
                    args.rate,
                    args.seconds,
                    args.duration,
                )
            )
        finally:
            process.stop()
    counts = rooms(out.read_text())
    total = sum(counts.values()) or 1
    print(json.dumps({"bench": "webhook-ingest-profile", **figures}))
    print(json.dumps({"cpu_seconds": cpu, "window_s": args.duration}))
    print(f"\n| room | share of worker samples ({total} samples) |\n|---|---|")
    for room, count in counts.most_common():
        print(f"| {room} | {100 * count / total:.1f} % |")
    print(f"\ncollapsed stacks: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
