from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INVOICING_", extra="ignore", populate_by_name=True
    )

    service_name: ClassVar[str] = "invoicing"
    schema_name: ClassVar[str] = "invoicing"

    port: int = 8103
