"""What the benchmarks share besides load: the machine-wide stack lock (one full stack,
tests or benchmarks, runs at a time) and tools installed into their own virtualenvs."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billing_devstack import Stack, default_state_dir, repo_root

LOCK = Path("/tmp/billing-stack.lock")
OWNER = Path("/tmp/billing-stack.owner")


def machine_reference() -> dict[str, Any]:
    """What the machine is, for comparing figures taken on different ones: its processor, its
    cores and how long a fixed piece of pure Python (ten million additions in a loop) takes,
    the best of three. The services' CPU per event scales with that figure: a machine twice as
    slow at it applies half as many events per second."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        total = 0
        for n in range(10_000_000):
            total += n
        best = min(best, time.perf_counter() - began)
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return {
        "bench": "machine",
        "cpu": model,
        "cores": os.cpu_count(),
        "reference_loop_s": round(best, 3),
    }


@contextlib.contextmanager
def stack_lock(owner: str) -> Iterator[None]:
    """Hold ``flock`` on the lock file (the same lock ``flock /tmp/billing-stack.lock`` takes)."""
    with LOCK.open("a") as handle:
        print(f"waiting for {LOCK}", file=sys.stderr, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):
            OWNER.write_text(f"{owner}\n")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked_stack(owner: str, *, state: str = "bench", emulator: bool = True) -> Iterator[Stack]:
    """A benchmark stack (``.devstack/<state>``), started under the stack lock and stopped,
    with everything it started, on the way out.

    Its Stripe emulator keeps its objects in memory only: a run starts from none of an
    earlier run's, and never pauses to write hundreds of MB of them to its state file (in
    ``make bench`` that writing took the emulator from 0.15 to 1.5 CPU seconds per 1,000
    events by the second scale-out run)."""
    with stack_lock(f"{repo_root()} {owner}"), _environment(STRIPE_EMULATOR_STATE_FILE=""):
        stack = Stack(default_state_dir() / state, emulator=emulator)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def uv_binary() -> str:
    found = shutil.which("uv")
    return found or str(repo_root() / ".devstack" / "tools" / "bin" / "uv")


def ensure_venv(directory: Path, requirements: list[str]) -> Path:
    """A Python 3.11 virtualenv holding ``requirements`` (reused while they are unchanged);
    its bin directory. Kept apart from the workspace, so nothing enters ``uv.lock``."""
    marker = directory / "bench-requirements.json"
    if marker.exists() and json.loads(marker.read_text()) == requirements:
        return directory / "bin"
    uv = uv_binary()
    subprocess.run(
        [uv, "venv", "--quiet", "--clear", "--python", "3.11", str(directory)], check=True
    )
    python = str(directory / "bin" / "python")
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, *requirements], check=True)
    marker.write_text(json.dumps(requirements))
    return directory / "bin"
