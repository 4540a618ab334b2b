"""Operator commands of every service: ``outbox backlog|dead-letters|redrive`` and
``dlq list|redrive``. They reach the service's database and broker directly, not the running
service, so they work while it is down. Output: one JSON object per line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from billing_kit.dlq import DeadLetterMessage, DeadLetterQueues
from billing_kit.outbox_ops import list_dead_letters, outbox_backlog, redrive_dead_letters
from billing_kit.settings import ServiceSettings
from billing_kit.tables import KitTables, add_kit_tables

T = TypeVar("T")


def _echo(record: dict[str, Any]) -> None:
    typer.echo(json.dumps(record, default=str, sort_keys=True))


def _with_database(
    settings_type: type[ServiceSettings],
    work: Callable[[AsyncEngine, KitTables], Awaitable[T]],
) -> T:
    settings = settings_type()
    tables = add_kit_tables(MetaData(schema=settings.schema_name))

    async def main() -> T:
        engine = create_async_engine(settings.database_url)
        try:
            return await work(engine, tables)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _queues(settings: ServiceSettings) -> DeadLetterQueues:
    group_prefix = settings.consumer_group_prefix or settings.service_name
    return DeadLetterQueues(settings.kafka_bootstrap_servers, group_prefix)


def _message(message: DeadLetterMessage) -> dict[str, Any]:
    return {
        "dlq_topic": message.dlq_topic,
        "partition": message.partition,
        "offset": message.offset,
        "topic": message.original_topic,
        "consumer": message.consumer,
        "event_id": message.headers.get("event_id"),
        "attempts": message.headers.get("x-attempts"),
        "error": message.error,
    }


def operator_commands(settings_type: type[ServiceSettings]) -> list[typer.Typer]:
    """The ``outbox`` and ``dlq`` command groups of a service."""
    outbox = typer.Typer(name="outbox", help="The outbox: backlog and dead letters.")
    dlq = typer.Typer(name="dlq", help="The service's messages in the <topic>.dlq topics.")

    @outbox.command("backlog")
    def backlog() -> None:
        """Events waiting to be published, and the age of the oldest."""
        waiting = _with_database(settings_type, lambda e, t: outbox_backlog(e, t.outbox))
        _echo({"events": waiting.events, "oldest_age_seconds": waiting.oldest_age_seconds})

    @outbox.command("dead-letters")
    def dead_letters(
        limit: Annotated[int, typer.Option(help="At most this many, oldest first.")] = 100,
    ) -> None:
        """Events the broker refused for good, with their errors."""
        rows = _with_database(
            settings_type, lambda e, t: list_dead_letters(e, t.dead_letters, limit)
        )
        for row in rows:
            _echo(
                {
                    "id": row.id, "event_id": row.event_id, "topic": row.topic,
                    "event_type": row.event_type, "error": row.error, "failed_at": row.failed_at,
                }
            )  # fmt: skip

    @outbox.command("redrive")
    def redrive(
        ids: Annotated[list[int] | None, typer.Argument(help="Dead letters to re-drive.")] = None,
        every: Annotated[bool, typer.Option("--all", help="Re-drive every dead letter.")] = False,
    ) -> None:
        """Put dead letters back into the outbox (once their cause is fixed)."""
        if not ids and not every:
            raise typer.BadParameter("name the dead letters' ids, or --all")
        moved = _with_database(
            settings_type,
            lambda e, t: redrive_dead_letters(e, t.dead_letters, t.outbox, None if every else ids),
        )
        _echo({"redriven": moved})

    @dlq.command("list")
    def list_messages(
        topic: Annotated[str | None, typer.Option(help="Only this topic's .dlq.")] = None,
    ) -> None:
        """The service's dead-lettered messages not re-driven yet."""
        for message in asyncio.run(_queues(settings_type()).pending(topic)):
            _echo(_message(message))

    @dlq.command("redrive")
    def redrive_messages(
        topic: Annotated[str | None, typer.Option(help="Only this topic's .dlq.")] = None,
    ) -> None:
        """Publish the service's pending dead-lettered messages to their topics again."""
        settings = settings_type()
        messages = asyncio.run(_queues(settings).redrive(topic, settings.kafka_durability))
        _echo({"redriven": [_message(m) for m in messages]})

    return [outbox, dlq]
