"""``python -m <service> [serve|migrate|check-migrations]``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from billing_kit.migrations import check, upgrade
from billing_kit.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceDefinition:
    settings_type: type[ServiceSettings]
    migrations_dir: Path
    create_app: Callable[[ServiceSettings], FastAPI]


def main(service: ServiceDefinition, argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    settings = service.settings_type()
    if command == "migrate":
        upgrade(service.migrations_dir, settings.database_url)
    elif command == "check-migrations":
        check(service.migrations_dir, settings.database_url)
    elif command == "serve":
        uvicorn.run(
            service.create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    else:
        raise SystemExit(f"unknown command {command!r}: use serve, migrate or check-migrations")
