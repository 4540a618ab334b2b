"""``python -m <service> [serve|migrate|revision MESSAGE|check-migrations|<its own>]``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from billing_kit.migrations import check, revision, upgrade
from billing_kit.settings import ServiceSettings

Command = Callable[[list[str]], None]


@dataclass(frozen=True)
class ServiceDefinition:
    settings_type: type[ServiceSettings]
    migrations_dir: Path
    app_factory: str
    """``package.module:function`` building the served app; imported only by ``serve`` (so
    ``migrate`` starts fast), by uvicorn, so that several workers can each build one."""
    commands: Mapping[str, Command] = field(default_factory=dict)


def run(
    settings_type: type[ServiceSettings],
    app_factory: str,
    main_file: str,
    *,
    commands: Mapping[str, Command] | None = None,
) -> None:
    """Entry point of ``python -m <service>``; migrations live in ``services/<name>/migrations``."""
    migrations_dir = Path(main_file).resolve().parents[2] / "migrations"
    main(ServiceDefinition(settings_type, migrations_dir, app_factory, commands or {}))


def main(service: ServiceDefinition, argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command in service.commands:
        service.commands[command](args[1:])
        return
    settings = service.settings_type()
    if command == "migrate":
        upgrade(service.migrations_dir, settings.database_url)
    elif command == "revision":
        revision(service.migrations_dir, settings.database_url, " ".join(args[1:]) or "change")
    elif command == "check-migrations":
        check(service.migrations_dir, settings.database_url)
    elif command == "serve":
        uvicorn.run(
            service.app_factory,
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    else:
        known = ["serve", "migrate", "revision", "check-migrations", *service.commands]
        raise SystemExit(f"unknown command {command!r}: use one of {', '.join(known)}")
