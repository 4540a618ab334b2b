"""Settings every service shares; a service subclasses it with its own env prefix and port.

The shared connection variables (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ...) have the
same name for every service, so they carry explicit aliases that the prefix does not touch.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-gateway-secret-change-me-before-production"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"
    schema_name: ClassVar[str] = "public"

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/billing", validation_alias="DATABASE_URL"
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    stripe_api_base: str = Field("http://127.0.0.1:12111", validation_alias="STRIPE_API_BASE")
    stripe_api_key: SecretStr = Field(
        SecretStr("sk_test_emulator"), validation_alias="STRIPE_API_KEY"
    )
    gateway_jwt_secret: SecretStr = Field(
        SecretStr(DEV_JWT_SECRET), validation_alias="GATEWAY_JWT_SECRET"
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    """uvicorn worker processes; each runs its own consumers and outbox relay."""

    db_pool_size: int = 10
    outbox_batch_size: int = 500
    outbox_idle_poll_seconds: float = 0.5
    consumer_group_prefix: str | None = None
    """Consumer groups are ``<prefix>.<consumer>``; the prefix defaults to the service name."""
    consumer_session_timeout_ms: int = 6000
    """Short enough that a dead replica's partitions move on quickly (and the first group
    join, which some brokers hold for half of it, stays short)."""
    consumer_heartbeat_interval_ms: int = 2000
    consumer_max_attempts: int = 5
    """Attempts for a message whose handler keeps failing before it goes to ``<topic>.dlq``."""
    stripe_max_network_retries: int = 3
