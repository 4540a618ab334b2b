"""Kafka durability: settings for a real cluster by default, one broker in development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from billing_devstack import service_env
from billing_kit.kafka import new_topic
from billing_kit.outbox import new_producer
from billing_kit.settings import SINGLE_BROKER, KafkaDurability, ServiceSettings

pytestmark = pytest.mark.unit

VARIABLES = ("KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_IDEMPOTENT_PRODUCER")


@pytest.fixture
def no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_defaults_suit_a_cluster_of_three_brokers(no_kafka_env: pytest.MonkeyPatch) -> None:
    durability = ServiceSettings().kafka_durability
    assert durability == KafkaDurability(3, 2, idempotent_producer=True)
    assert durability.producer_options() == {"acks": "all", "enable_idempotence": True}
    topic = new_topic("billing.x.dlq", 3, durability)
    assert (topic.name, topic.num_partitions, topic.replication_factor) == ("billing.x.dlq", 3, 3)
    assert topic.topic_configs == {"min.insync.replicas": "2"}


def test_the_environment_sets_each_of_them(no_kafka_env: pytest.MonkeyPatch) -> None:
    no_kafka_env.setenv("KAFKA_REPLICATION_FACTOR", "5")
    no_kafka_env.setenv("KAFKA_MIN_INSYNC_REPLICAS", "3")
    no_kafka_env.setenv("KAFKA_IDEMPOTENT_PRODUCER", "false")
    durability = ServiceSettings().kafka_durability
    assert durability == KafkaDurability(5, 3, idempotent_producer=False)
    assert durability.producer_options()["enable_idempotence"] is False
    assert new_topic("t", 1, durability).topic_configs == {"min.insync.replicas": "3"}


def test_more_in_sync_replicas_than_replicas_is_refused(no_kafka_env: pytest.MonkeyPatch) -> None:
    no_kafka_env.setenv("KAFKA_REPLICATION_FACTOR", "1")
    with pytest.raises(ValidationError, match="KAFKA_MIN_INSYNC_REPLICAS"):
        ServiceSettings()


async def test_the_relay_producer_is_idempotent_only_when_asked() -> None:
    idempotent = new_producer("127.0.0.1:1", "t", KafkaDurability())
    plain = new_producer("127.0.0.1:1", "t", SINGLE_BROKER)
    # aiokafka keeps a transaction manager (producer id, sequence numbers) only when idempotent.
    assert idempotent._txn_manager is not None
    assert plain._txn_manager is None
    await idempotent.stop()
    await plain.stop()


def test_the_embedded_stack_runs_services_on_one_broker_without_idempotence(
    no_kafka_env: pytest.MonkeyPatch,
) -> None:
    env = service_env(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/billing",
        kafka_bootstrap="127.0.0.1:2",
        stripe_api_base="http://127.0.0.1:3",
        base={},
    )
    for variable in VARIABLES:
        no_kafka_env.setenv(variable, env[variable])
    assert ServiceSettings().kafka_durability == SINGLE_BROKER
