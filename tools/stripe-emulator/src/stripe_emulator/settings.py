"""Emulator settings, read once from `STRIPE_EMULATOR_*` environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIPE_EMULATOR_")

    host: str = "127.0.0.1"
    port: int = 12111
    # Base of the URLs handed out for hosted pages; defaults to the URL the request came in on.
    public_url: str | None = None
    log_level: str = "warning"
    webhook_concurrency: int = 4
    webhook_timeout_seconds: float = 10.0
    webhook_retry_base_seconds: float = 1.0
    webhook_retry_max_seconds: float = 60.0
    webhook_max_attempts: int = 50
    # Where the state is kept across restarts (none: in memory only); it is written once it has
    # not changed for `save_interval_seconds`, and on shutdown.
    state_file: str | None = None
    save_interval_seconds: float = 5.0
