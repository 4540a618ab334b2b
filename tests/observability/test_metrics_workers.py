"""``/metrics`` of a service served by several uvicorn workers adds up every worker's samples,
whichever worker answers the scrape. Processes only: nothing here reaches a database or a
broker (a webhook with a bad signature is refused before anything is stored)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from billing_devstack import free_port

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # no infrastructure, but seconds each

REQUESTS = 40


def _samples(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by the previous start")
    port = free_port()
    env = {
        **os.environ,
        "BILLING_ENV": "development",
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "WEBHOOK_INGEST_PORT": str(port),
        "WEBHOOK_INGEST_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "webhook_ingest", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            workers = {p.name.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200 and len(workers) >= 2:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("webhook-ingest with two workers did not start")
        yield base, metrics_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_metrics_add_up_the_samples_of_every_worker(two_workers: tuple[str, Path]) -> None:
    base, metrics_dir = two_workers
    assert not (metrics_dir / "counter_999999.db").exists(), "a start begins with no samples"
    workers = {p.name.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}
    assert len(workers) == 2, workers
    for _ in range(REQUESTS):  # a connection each: the kernel spreads them over the workers
        answer = httpx.post(
            f"{base}/stripe/webhooks",
            content=b'{"id": "evt_1", "object": "event"}',
            headers={"Stripe-Signature": "t=1,v1=forged", "Content-Type": "application/json"},
        )
        assert answer.status_code == 400
    for _ in range(6):  # whichever worker answers, the sum is the same
        scraped = httpx.get(f"{base}/metrics").text
        failures = _samples(
            scraped,
            "webhook_verification_failures_total",
            service="webhook_ingest",
            endpoint="platform",
        )
        refused = _samples(scraped, "http_requests_total", route="/stripe/webhooks", status="400")
        assert (failures, refused) == (REQUESTS, REQUESTS)
