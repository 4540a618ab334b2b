"""The tables the kit keeps in every service's schema."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import MetaData, Table

from billing_kit.dead_letters import dead_letters_table
from billing_kit.idempotency import idempotency_table
from billing_kit.inbox import inbox_table
from billing_kit.outbox import outbox_table


@dataclass(frozen=True)
class KitTables:
    outbox: Table
    inbox: Table
    idempotency: Table
    dead_letters: Table


def add_kit_tables(metadata: MetaData) -> KitTables:
    return KitTables(
        outbox=outbox_table(metadata),
        inbox=inbox_table(metadata),
        idempotency=idempotency_table(metadata),
        dead_letters=dead_letters_table(metadata),
    )
