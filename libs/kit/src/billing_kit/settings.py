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
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-gateway-secret-change-me-before-production"
DEV_STRIPE_API_KEY = "sk_test_emulator"


@dataclass(frozen=True)
class ProductionSecret:
    """Marks a secret setting; ``development_value`` is its public stand-in in development."""

    development_value: str


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
    outbox_max_message_bytes: int = 1024 * 1024
    """Largest event the relay publishes (Kafka's default ``message.max.bytes``); a larger
    one goes to ``outbox_dead_letters``."""
    consumer_group_prefix: str | None = None
    """Consumer groups are ``<prefix>.<consumer>``; the prefix defaults to the service name."""
    consumer_session_timeout_ms: int = 6000
    """Short enough that a dead replica's partitions move on quickly (and the first group
    join, which some brokers hold for half of it, stays short)."""
    consumer_heartbeat_interval_ms: int = 2000
    consumer_max_attempts: int = 5
    """Attempts for a message whose handler keeps failing before it goes to ``<topic>.dlq``."""
    stripe_max_network_retries: int = 3
    broker_retry_max_seconds: float = 10.0
    """Longest wait between two attempts to reach the broker while it is away."""

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
