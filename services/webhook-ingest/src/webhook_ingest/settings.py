from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ProductionSecret, ServiceSettings

DEV_WEBHOOK_SECRET = "whsec_dev_platform"
DEV_CONNECT_WEBHOOK_SECRET = "whsec_dev_connect"


def _split(value: SecretStr) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.get_secret_value().split(",") if part.strip())


class WebhookIngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="WEBHOOK_INGEST_", extra="ignore", populate_by_name=True
    )

    service_name: ClassVar[str] = "webhook_ingest"
    schema_name: ClassVar[str] = "webhook_ingest"

    port: int = 8104
    workers: int = 2
    """uvicorn worker processes; each runs its own outbox relay (one publishes at a time).
    Two measured best on the 2-core box (README, Benchmark): one worker saturates its core
    at ~1,600 events/s, two sustain ~1,900 with Postgres, the broker and the load on the
    same cores."""

    webhook_secrets: Annotated[SecretStr, ProductionSecret(DEV_WEBHOOK_SECRET)] = Field(
        SecretStr(""), validation_alias="STRIPE_WEBHOOK_SECRETS"
    )
    """Comma-separated signing secrets of the platform endpoint; any may match (rotation)."""
    connect_webhook_secrets: Annotated[SecretStr, ProductionSecret(DEV_CONNECT_WEBHOOK_SECRET)] = (
        Field(SecretStr(""), validation_alias="STRIPE_CONNECT_WEBHOOK_SECRETS")
    )
    signature_tolerance_seconds: int = 300
    max_body_bytes: int = 1024 * 1024
    replay_page_size: int = 100
    enrichment_retry_cap_seconds: float = 15.0
    """Longest wait between two attempts to complete a held event while Stripe fails: short,
    so that held events flow again within seconds of Stripe coming back."""

    @property
    def platform_secrets(self) -> tuple[str, ...]:
        return _split(self.webhook_secrets)

    @property
    def connect_secrets(self) -> tuple[str, ...]:
        return _split(self.connect_webhook_secrets)
