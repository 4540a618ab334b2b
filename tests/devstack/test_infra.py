"""The embedded stack's pieces start, answer and stop without leaving a process behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from billing_devstack import Stack, default_state_dir, service_env
from billing_devstack.broker import TansuBroker
from billing_devstack.postgres import EmbeddedPostgres
from billing_devstack.processes import port_is_free
from billing_kit.kafka import ensure_topics

STATE = default_state_dir() / "test-devstack"


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _all_gone(procs: list[psutil.Process], within: float = 5.0) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=within)
    return not alive


@pytest.fixture(scope="module")
def state_dir() -> Path:
    STATE.mkdir(parents=True, exist_ok=True)
    return STATE


@pytest.fixture(scope="module")
def broker(state_dir: Path) -> Iterator[TansuBroker]:
    tansu = TansuBroker(state_dir).start()
    yield tansu
    tansu.stop()


@pytest.mark.integration
async def test_postgres_starts_answers_and_stops_clean(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    started = time.monotonic()
    pg.start()
    elapsed = time.monotonic() - started
    assert pg.process is not None
    assert pg.process.pid is not None
    procs = _tree(pg.process.pid)  # postmaster and its backends
    try:
        assert pg.url == f"postgresql+asyncpg://postgres@127.0.0.1:{pg.port}/billing"
        conn = await asyncpg.connect(pg.dsn)
        try:
            row = await conn.fetchrow(
                "select current_database() as db, current_setting('fsync') as fsync, "
                "current_setting('max_connections') as max_conn"
            )
        finally:
            await conn.close()
        assert row is not None
        assert (row["db"], row["fsync"], row["max_conn"]) == ("billing", "off", "300")
        assert elapsed < 30
    finally:
        pg.stop()
    assert _all_gone(procs)
    assert port_is_free(pg.port)


@pytest.mark.integration
async def test_broker_produce_consume_with_group_and_manual_commit(broker: TansuBroker) -> None:
    topic = f"devstack.roundtrip.{time.time_ns()}"
    await ensure_topics(broker.bootstrap, [topic], partitions=2)
    await ensure_topics(broker.bootstrap, [topic], partitions=5)  # exists: left alone
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described["partitions"]) == 2

    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False
    )
    await producer.start()
    try:
        for i in range(4):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=f"k{i}".encode())
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=f"g-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        received: list[bytes] = []
        async with asyncio.timeout(30):
            while len(received) < 4:
                batches = await consumer.getmany(timeout_ms=500)
                received += [m.value for msgs in batches.values() for m in msgs if m.value]
        await consumer.commit()
        committed = [await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)]
    finally:
        await consumer.stop()
    assert sorted(received) == [b"m0", b"m1", b"m2", b"m3"]
    assert sum(c or 0 for c in committed) == 4


@pytest.mark.integration
def test_broker_down_and_back_on_the_same_address(broker: TansuBroker) -> None:
    assert broker.process is not None
    assert broker.process.pid is not None
    bootstrap, procs = broker.bootstrap, _tree(broker.process.pid)
    broker.stop()
    assert _all_gone(procs)
    assert port_is_free(broker.port)
    broker.start()
    assert broker.bootstrap == bootstrap


@pytest.mark.unit
def test_environment_switches_to_real_servers(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql+asyncpg://u:p@db.example:5432/billing",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092",
        "STRIPE_API_BASE": "https://api.stripe.example",
    }
    stack = Stack(tmp_path, env=env)
    infra = stack.start()
    try:
        assert (infra.database_url, infra.kafka_bootstrap, infra.stripe_api_base) == (
            env["DATABASE_URL"],
            env["KAFKA_BOOTSTRAP_SERVERS"],
            env["STRIPE_API_BASE"],
        )
        assert (stack.postgres, stack.broker, stack.stripe) == (None, None, None)
    finally:
        stack.stop()


@pytest.mark.unit
def test_service_env_defaults() -> None:
    env = service_env(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/billing",
        kafka_bootstrap="127.0.0.1:2",
        stripe_api_base="http://127.0.0.1:3",
        base={"STRIPE_WEBHOOK_SECRETS": " whsec_a, whsec_b", "REVENUE_PORT": "9105"},
    )
    assert env["GATEWAY_JWT_SECRET"] == "dev-gateway-secret-change-me-before-production"
    assert env["STRIPE_API_KEY"] == "sk_test_emulator"
    assert env["BILLING_ENV"] == "development"
    assert env["STRIPE_WEBHOOK_SECRETS"] == " whsec_a, whsec_b"
    assert env["STRIPE_CONNECT_WEBHOOK_SECRETS"] == "whsec_dev_connect"
    assert (env["CATALOG_PORT"], env["REVENUE_PORT"]) == ("8101", "9105")
