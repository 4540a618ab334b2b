"""Settings every service shares; a service subclasses it with its own env prefix and port.

The shared connection variables (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ...) have the
same name for every service, so they carry explicit aliases that the prefix does not touch.

Secrets that have a public development value (the gateway's JWT key, Stripe's keys and
webhook signing secrets) are declared with :class:`ProductionSecret`: outside development
mode (``BILLING_ENV=development``, set by ``make run`` and the tests) a service refuses to
start until each one is set to something else than that public value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-gateway-secret-change-me-before-production"
DEV_STRIPE_API_KEY = "sk_test_emulator"


@dataclass(frozen=True)
class ProductionSecret:
    """Marks a secret setting; ``development_value`` is its public stand-in in development."""

    development_value: str


@dataclass(frozen=True)
class KafkaDurability:
    """How many copies of a record exist before a producer counts it as written.

    The defaults suit a cluster of three or more brokers: three replicas, two of which must
    hold a record before it is acknowledged (``acks=all``), so one broker may fail without
    losing anything or refusing writes; the idempotent producer keeps a retried send from
    writing a record twice.
    """

    replication_factor: int = 3
    min_insync_replicas: int = 2
    idempotent_producer: bool = True

    def topic_config(self) -> dict[str, str]:
        """Configuration of each topic the services create."""
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    def producer_options(self) -> dict[str, Any]:
        """Options of every producer (the relay's and FastStream's)."""
        return {"acks": "all", "enable_idempotence": self.idempotent_producer}


SINGLE_BROKER = KafkaDurability(
    replication_factor=1, min_insync_replicas=1, idempotent_producer=False
)
"""One development broker (the embedded one lacks ``InitProducerId``, so no idempotence)."""


class MissingProductionSecretsError(RuntimeError):
    """A service outside development mode lacks a secret; the message is one line."""

    def __init__(self, variables: list[str]) -> None:
        names = ", ".join(variables)
        verb = "is" if len(variables) == 1 else "are"
        super().__init__(
            f"refusing to start: {names} {verb} not set (or still the public development "
            "value); set them from your secret store, or BILLING_ENV=development to run locally"
        )
        self.variables = variables


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"
    schema_name: ClassVar[str] = "public"

    billing_env: Literal["development", "production"] = Field(
        "production", validation_alias="BILLING_ENV"
    )
    """``development`` lets the public development secrets stand in for missing ones."""
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/billing", validation_alias="DATABASE_URL"
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_replication_factor: int = Field(
        KafkaDurability.replication_factor, ge=1, validation_alias="KAFKA_REPLICATION_FACTOR"
    )
    """Replicas of each topic a service creates (``.dlq`` topics included)."""
    kafka_min_insync_replicas: int = Field(
        KafkaDurability.min_insync_replicas, ge=1, validation_alias="KAFKA_MIN_INSYNC_REPLICAS"
    )
    """``min.insync.replicas`` of those topics: replicas holding a record before it counts."""
    kafka_idempotent_producer: bool = Field(
        KafkaDurability.idempotent_producer, validation_alias="KAFKA_IDEMPOTENT_PRODUCER"
    )
    """Idempotent producers (off for brokers without ``InitProducerId``)."""
    stripe_api_base: str = Field("http://127.0.0.1:12111", validation_alias="STRIPE_API_BASE")
    stripe_api_key: Annotated[SecretStr, ProductionSecret(DEV_STRIPE_API_KEY)] = Field(
        SecretStr(""), validation_alias="STRIPE_API_KEY"
    )
    gateway_jwt_secret: Annotated[SecretStr, ProductionSecret(DEV_JWT_SECRET)] = Field(
        SecretStr(""), validation_alias="GATEWAY_JWT_SECRET"
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    """uvicorn worker processes; each runs its own consumers and outbox relay."""

    db_pool_size: int = 10
    outbox_batch_size: int = 500
    outbox_idle_poll_seconds: float = 0.5
    outbox_backlog_sample_seconds: float = 10.0
    """How often the outbox backlog metrics are measured."""
    outbox_max_message_bytes: int = 1024 * 1024
    """Largest event the relay publishes (Kafka's default ``message.max.bytes``); a larger
    one goes to ``outbox_dead_letters``."""
    consumer_group_prefix: str | None = None
    """The service's consumer group is ``<prefix>``, its consumers (inbox rows, dead letters,
    metrics) ``<prefix>.<consumer>`` and a responder's group ``<prefix>.<responder>``; the
    prefix defaults to the service name."""
    consumer_session_timeout_ms: int = 6000
    """Short enough that a dead replica's partitions move on quickly (and the first group
    join, which some brokers hold for half of it, stays short)."""
    consumer_heartbeat_interval_ms: int = 2000
    consumer_fetch_max_wait_ms: int = 100
    """How long a fetch may wait for data before the broker answers empty: on a quiet topic the
    latency of every hop. Measured with ``bench.revenue`` (webhook to revenue summary): with
    aiokafka's default 500 ms, p50 275 ms / p95 327 ms; with 100 ms, p50 135 ms / p95 217 ms."""
    consumer_fetch_min_bytes: int = 1
    """How much a fetch waits for (up to ``consumer_fetch_max_wait_ms``) before the broker
    answers. Tried at 32 KB so that replicas sharing a busy topic still apply big batches:
    two replicas' events/s varied between runs as much as with 1 byte (278 to 524 against
    360, ``bench/scale_out.py``, 2026-12-06), while the portal's p95 for a paid invoice went
    from 140 ms to 1.1 s (``bench/invoice_states.py``); so 1 byte: answer at once."""
    consumer_max_batch: int = 200
    """Most messages a consumer applies in one transaction; the service's consumer group
    takes up to this many per topic it reads in one poll, committed together."""
    consumer_batch_wait_ms: int = 20
    """How long an idle consumer's poll waits for messages before it pauses as long again:
    the most a quiet consumer adds to an event's way."""
    consumer_linger_ms: int = 60
    """While a stream is flowing (the consumer applied a batch in the last second), a small
    batch waits this long once for more before it is applied: a transaction costs about the
    same whatever its size, so fewer, bigger ones leave the CPU to the rest of the machine
    (``bench/scale_out.py --invoices 800``, 2026-12-07: one replica 418 events/s without,
    573 with 30 ms, 631 with 60 ms and 100 messages; revenue 21 → 39 → 69 events a
    transaction). A consumer after a quiet second applies what comes at once. 0: never."""
    consumer_linger_below: int = 100
    """A batch of fewer messages than this is small (``consumer_linger_ms``)."""
    consumer_position_check_seconds: float = 2.0
    """How often consumers are checked for reading past a partition's end (a topic the
    broker lost and made again starts over at offset 0)."""
    consumer_max_attempts: int = 5
    """Attempts for a message whose handler keeps failing before it goes to ``<topic>.dlq``."""
    stripe_max_network_retries: int = 3
    broker_retry_max_seconds: float = 10.0
    """Longest wait between two attempts to reach the broker while it is away."""
    command_sweep_after_seconds: float = 60.0
    """A command's pending record that has not moved for this long was left by a crash or an
    unknown outcome: the sweeper finishes or undoes it."""
    command_sweep_every_seconds: float = 10.0
    """How often the sweeper looks for such records."""
    crash_after_stripe: str | None = None
    """Crash drill, development only (``<SERVICE>_CRASH_AFTER_STRIPE=<command kind>``): the
    process SIGKILLs itself right after the Stripe calls of a command of this kind succeeded,
    before the commit that completes it, as a crash there would. Refused outside development."""

    @property
    def kafka_durability(self) -> KafkaDurability:
        return KafkaDurability(
            replication_factor=self.kafka_replication_factor,
            min_insync_replicas=self.kafka_min_insync_replicas,
            idempotent_producer=self.kafka_idempotent_producer,
        )

    @model_validator(mode="after")
    def _replicas_can_be_in_sync(self) -> Self:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"KAFKA_MIN_INSYNC_REPLICAS ({self.kafka_min_insync_replicas}) exceeds "
                f"KAFKA_REPLICATION_FACTOR ({self.kafka_replication_factor}): "
                "no write could succeed"
            )
        return self

    @model_validator(mode="after")
    def _crash_drill_only_in_development(self) -> Self:
        if self.crash_after_stripe and not self.development:
            raise ValueError(
                "CRASH_AFTER_STRIPE is a crash drill: refused outside development "
                "(BILLING_ENV=development)"
            )
        return self

    @property
    def development(self) -> bool:
        return self.billing_env == "development"

    @model_validator(mode="after")
    def _development_stand_ins(self) -> Self:
        if self.development:
            for name, marker in self._production_secrets():
                if not getattr(self, name).get_secret_value():
                    setattr(self, name, SecretStr(marker.development_value))
        return self

    @classmethod
    def _production_secrets(cls) -> list[tuple[str, ProductionSecret]]:
        return [
            (name, marker)
            for name, info in cls.model_fields.items()
            for marker in info.metadata
            if isinstance(marker, ProductionSecret)
        ]

    @classmethod
    def production_secret_variables(cls) -> list[str]:
        """The environment variables of the service's production secrets."""
        return [cls._variable(name) for name, _ in cls._production_secrets()]

    @classmethod
    def _variable(cls, name: str) -> str:
        alias = cls.model_fields[name].validation_alias
        return alias if isinstance(alias, str) else name.upper()

    def missing_production_secrets(self) -> list[str]:
        """Environment variables of secrets that are unset or public, outside development."""
        if self.development:
            return []
        missing = []
        for name, marker in self._production_secrets():
            value = getattr(self, name).get_secret_value()
            if not value or value == marker.development_value:
                missing.append(self._variable(name))
        return missing

    def require_production_secrets(self) -> None:
        missing = self.missing_production_secrets()
        if missing:
            raise MissingProductionSecretsError(missing)
