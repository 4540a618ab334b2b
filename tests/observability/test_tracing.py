"""One signed webhook is one trace: webhook-ingest's request span, the trace context stored
with the outbox row and carried in the Kafka headers, catalog's consumer span and the inbox's
apply span all share its trace id.

The two services are built in this process (spans of separate processes cannot reach one
in-memory exporter), on a database of their own and consumer groups of their own, against the
test stack's broker and Stripe emulator."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from billing_contracts.billing_accounts import ACCOUNTS
from billing_devstack import Infra
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    PLATFORM_SECRET,
    body_of,
    fixture,
    new_id,
    signed,
    stripe_event,
)
from webhook_ingest.app import create_app as create_ingest
from webhook_ingest.settings import WebhookIngestSettings

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later tests' spans are not kept


@pytest.fixture(scope="module")
async def ingest_and_catalog(infra: Infra) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A webhook-ingest client, and catalog's consumer of account updates."""
    url = await create_database(infra.database_url, "trace")
    await asyncio.to_thread(migrate, url, ["webhook_ingest", "catalog"])
    prefix = f"trace-{uuid.uuid4().hex[:8]}"
    shared: dict[str, Any] = {
        "database_url": url,
        "kafka_bootstrap_servers": infra.kafka_bootstrap,
        "stripe_api_base": infra.stripe_api_base,
        "outbox_idle_poll_seconds": 0.05,
    }
    ingest = create_ingest(
        WebhookIngestSettings(
            **shared,
            consumer_group_prefix=f"{prefix}-ingest",
            webhook_secrets=SecretStr(PLATFORM_SECRET),
            connect_webhook_secrets=SecretStr(CONNECT_SECRET),
        )
    )
    catalog = create_catalog(CatalogSettings(**shared, consumer_group_prefix=f"{prefix}-catalog"))
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(ingest.api.router.lifespan_context(ingest.api))
        await running.enter_async_context(catalog.router.lifespan_context(catalog))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest), base_url="http://t")
        await running.enter_async_context(client)
        yield client, f"{prefix}-catalog"


def account_updated() -> tuple[str, bytes]:
    account_id = new_id("acct")
    account = fixture(
        "account",
        id=account_id,
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        metadata={"agency_id": f"agency-{uuid.uuid4().hex[:12]}"},
    )
    event = stripe_event("account.updated", account, account=account_id)
    return str(event["id"]), body_of(event)


async def test_one_webhook_is_one_trace_through_to_the_consumer(
    spans: InMemorySpanExporter, ingest_and_catalog: tuple[httpx.AsyncClient, str]
) -> None:
    ingest, catalog_group = ingest_and_catalog  # the group reads for each consumer of catalog
    stripe_event_id, body = account_updated()
    answer = await ingest.post(
        "/stripe/webhooks/connect", content=body, headers=signed(body, CONNECT_SECRET)
    )
    assert answer.status_code == 200, answer.text

    finished: list[ReadableSpan] = []

    def attribute(span: ReadableSpan, name: str) -> object:
        return (span.attributes or {}).get(name)

    [request] = [
        s for s in spans.get_finished_spans() if attribute(s, "stripe.event.id") == stripe_event_id
    ]
    assert request.kind == trace.SpanKind.SERVER
    assert attribute(request, "http.response.status_code") == 200

    async def applied_by_catalog() -> bool:
        finished[:] = spans.get_finished_spans()
        return any(
            attribute(s, "messaging.consumer.group.name") == catalog_group
            and s.context.trace_id == request.context.trace_id
            for s in finished
        )

    await eventually(applied_by_catalog)
    [apply] = [
        s
        for s in finished
        if attribute(s, "messaging.consumer.group.name") == catalog_group
        and s.context.trace_id == request.context.trace_id
    ]
    assert apply.name == f"apply {ACCOUNTS.name}"
    assert attribute(apply, "billing.consumer") == f"{catalog_group}.accounts"
    assert attribute(apply, "event.applied") is True
    # The event's consumer span continues the request's span, whose context the outbox row
    # stored and the Kafka message carried; the inbox's span is inside the consumer's.
    by_id = {s.context.span_id: s for s in finished}
    assert apply.parent is not None
    consume = by_id[apply.parent.span_id]
    assert consume.kind == trace.SpanKind.CONSUMER
    assert consume.parent is not None
    assert consume.parent.span_id == request.context.span_id
    # Every span of this event, in either service, is in the one trace.
    event_id = attribute(apply, "event.id")
    of_the_event = [s for s in finished if attribute(s, "event.id") == event_id]
    assert of_the_event
    for span in [request, consume, *of_the_event]:
        assert span.context.trace_id == request.context.trace_id, span.name
