from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "catalog"
    schema_name: ClassVar[str] = "catalog"

    port: int = 8101
