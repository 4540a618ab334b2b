from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ServiceSettings


class WebhookIngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="WEBHOOK_INGEST_", extra="ignore", populate_by_name=True
    )

    service_name: ClassVar[str] = "webhook_ingest"
    schema_name: ClassVar[str] = "webhook_ingest"

    port: int = 8104
