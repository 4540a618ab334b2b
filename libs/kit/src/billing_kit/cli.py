"""``python -m <service> [serve|migrate|revision|check-migrations|openapi|<its own>]``;
``--help`` lists them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from uvicorn.importer import import_from_string

from billing_kit.metrics import MULTIPROCESS_DIR
from billing_kit.migrations import check, revision, upgrade
from billing_kit.ops_cli import operator_commands
from billing_kit.settings import MissingProductionSecretsError, ServiceSettings

Command = Callable[[list[str]], None]


@dataclass(frozen=True)
class ServiceDefinition:
    settings_type: type[ServiceSettings]
    migrations_dir: Path
    app_factory: str
    """``package.module:function`` building the served app; imported only by ``serve`` (so
    ``migrate`` starts fast), by uvicorn, so that several workers can each build one."""
    commands: Mapping[str, Command] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.app_factory.partition(".")[0]


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
    command_line(service)(args=argv, prog_name=f"python -m {service.package}")


def openapi_document(service: ServiceDefinition) -> dict[str, Any]:
    """The service's OpenAPI document, from an app built in development mode (no secret or
    connection is needed to describe the routes)."""
    settings = service.settings_type(billing_env="development")
    app = import_from_string(service.app_factory)(settings)
    api = app if hasattr(app, "openapi") else app.api  # a fast lane in front of FastAPI
    document: dict[str, Any] = api.openapi()
    port = service.settings_type.model_fields["port"].default
    document.setdefault("servers", [{"url": f"http://127.0.0.1:{port}"}])
    return document


@contextlib.contextmanager
def metrics_directory(workers: int, package: str) -> Iterator[None]:
    """Several workers add up their metrics through files (prometheus_client's multiprocess
    mode), in ``$PROMETHEUS_MULTIPROC_DIR`` or a temporary directory: emptied at each start,
    so that a restarted service does not count its predecessor's samples again."""
    configured = os.environ.get(MULTIPROCESS_DIR)
    if workers <= 1 and not configured:
        yield
        return
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield
        return
    created = tempfile.mkdtemp(prefix=f"{package}-metrics-")
    os.environ[MULTIPROCESS_DIR] = created
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(created, ignore_errors=True)


def command_line(service: ServiceDefinition) -> typer.Typer:
    """The service's commands; ``serve`` when none is given."""
    app = typer.Typer(
        help=f"The {service.package} service. Without a command: serve.",
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    def serve() -> None:
        """Serve the HTTP API, the consumers and the outbox relay (uvicorn)."""
        settings = service.settings_type()
        try:
            settings.require_production_secrets()
        except MissingProductionSecretsError as exc:
            raise SystemExit(f"{service.package}: {exc}") from None
        with metrics_directory(settings.workers, service.package):
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

    @app.callback(invoke_without_command=True)
    def default(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            serve()

    app.command("serve")(serve)

    @app.command("migrate")
    def migrate() -> None:
        """Upgrade the service's schema to its newest migration."""
        upgrade(service.migrations_dir, service.settings_type().database_url)

    @app.command("revision")
    def make_revision(
        message: Annotated[list[str] | None, typer.Argument(help="What it changes.")] = None,
    ) -> None:
        """Write a new migration from the difference between the models and the database."""
        url = service.settings_type().database_url
        revision(service.migrations_dir, url, " ".join(message or []) or "change")

    @app.command("check-migrations")
    def check_migrations() -> None:
        """Fail when the models and the migrations differ."""
        check(service.migrations_dir, service.settings_type().database_url)

    @app.command("openapi")
    def openapi() -> None:
        """Print the service's OpenAPI document (JSON)."""
        json.dump(openapi_document(service), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")

    for group in operator_commands(service.settings_type):
        app.add_typer(group)
    for name, own_command in service.commands.items():
        _add_own_command(app, name, own_command)
    return app


def _add_own_command(app: typer.Typer, name: str, own_command: Command) -> None:
    """A service's own command parses its arguments itself (``--help`` included)."""

    def forward(ctx: typer.Context) -> None:
        own_command(list(ctx.args))

    app.command(
        name,
        help=own_command.__doc__ or f"The service's {name} command (see its --help).",
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(forward)
