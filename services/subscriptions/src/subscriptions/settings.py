from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ServiceSettings


class SubscriptionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SUBSCRIPTIONS_", extra="ignore", populate_by_name=True
    )

    service_name: ClassVar[str] = "subscriptions"
    schema_name: ClassVar[str] = "subscriptions"

    port: int = 8102
