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
    retry_runner: bool = True
    """Run the SaaS-fee manual retries in this process (one runner is enough; more share)."""
    retry_poll_seconds: float = 2.0
    """How often the runner looks for unfinished retry steps."""
    retry_recheck_seconds: float = 300.0
    """A retry waiting for funds reads the balance at least this often without a signal."""
    retry_give_up_seconds: float = 30 * 86400.0
    """A retry still without funds after this long is given up (payouts restored)."""
