from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ServiceSettings


class RevenueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVENUE_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "revenue"
    schema_name: ClassVar[str] = "revenue"

    port: int = 8105
