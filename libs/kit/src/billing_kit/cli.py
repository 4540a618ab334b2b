"""``python -m <service> [serve|migrate|revision MESSAGE|check-migrations]``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from billing_kit.migrations import check, revision, upgrade
from billing_kit.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceDefinition:
    settings_type: type[ServiceSettings]
    migrations_dir: Path
    create_app: Callable[[ServiceSettings], FastAPI]


def run(
    settings_type: type[ServiceSettings],
    create_app: Callable[[ServiceSettings], FastAPI],
    main_file: str,
) -> None:
    """Entry point of ``python -m <service>``; migrations live in ``services/<name>/migrations``."""
    migrations_dir = Path(main_file).resolve().parents[2] / "migrations"
    main(ServiceDefinition(settings_type, migrations_dir, create_app))


def main(service: ServiceDefinition, argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    settings = service.settings_type()
    if command == "migrate":
        upgrade(service.migrations_dir, settings.database_url)
    elif command == "revision":
        revision(service.migrations_dir, settings.database_url, " ".join(args[1:]) or "change")
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
        raise SystemExit(
            f"unknown command {command!r}: use serve, migrate, revision or check-migrations"
        )
