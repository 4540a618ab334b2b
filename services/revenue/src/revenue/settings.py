from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from billing_kit.settings import ServiceSettings


class RevenueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVENUE_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "revenue"
    schema_name: ClassVar[str] = "revenue"

    port: int = 8105
    reconciler: bool = True
    """Compare each connected account's ledger with Stripe on a schedule in this process
    (more processes doing it too heal nothing twice: the ledger path is idempotent)."""
    reconcile_every_seconds: float | None = Field(default=None, gt=0)
    """How often every account is checked; default 15 minutes, 5 s in development."""
    reconcile_retry_seconds: float = Field(default=2.0, gt=0)
    """How soon the next check comes after Stripe failed or a check found differences."""
    reconcile_settle_seconds: float | None = Field(default=None, ge=0)
    """A difference is applied once it has been seen for this long (a movement whose event
    is on its way is not one); default 60 s, 1 s in development."""
    reconcile_lookback_days: int = Field(default=35, ge=1)
    """Balance transactions created this many days back (and since) are compared."""

    @property
    def reconcile_interval(self) -> float:
        default = 5.0 if self.billing_env == "development" else 900.0
        return self.reconcile_every_seconds or default

    @property
    def reconcile_settle(self) -> float:
        if self.reconcile_settle_seconds is not None:
            return self.reconcile_settle_seconds
        return 1.0 if self.billing_env == "development" else 60.0
