"""The Prometheus metrics every service reports, and the registry ``/metrics`` renders.

With several uvicorn workers (``workers > 1``) or ``PROMETHEUS_MULTIPROC_DIR`` set, metrics
run in prometheus_client's multiprocess mode: each worker writes its samples to files in that
directory (a fresh one each time the service starts, ``billing_kit.cli``) and ``/metrics``
adds them up, whichever worker answers the scrape.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events delivered to a consumer, by outcome: applied, duplicate (already applied), "
    "failed (one failed attempt, retried) or dead_lettered (sent to <topic>.dlq)",
    ["service", "topic", "consumer", "outcome"],
)
BATCHES_FAILED = Counter(
    "consumer_batches_failed_total",
    "Batches of events undone because one of them failed, each then applied one by one",
    ["service", "topic", "consumer"],
)
TRANSACTION_CONFLICTS = Counter(
    "consumer_transaction_conflicts_total",
    "Transactions of a consumer that Postgres undid because they conflicted with another "
    "(kind: deadlock or serialization_failure), each applied again",
    ["service", "consumer", "kind"],
)
TRANSACTION_EVENTS = Histogram(
    "consumer_transaction_events",
    "Events of each transaction a consumer applied its events in (new ones and duplicates; "
    "with consumers sharing a handler, all of theirs): the smaller, the more each event pays "
    "for the transaction's round trips and the broker's fetches",
    ["service", "consumer"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
CONSUMER_LAG = Gauge(
    "consumer_lag_events",
    "Events of a partition after the last batch its consumer applied (the partition's end as "
    "the broker last told it, minus the consumer's position): set after each batch",
    ["service", "topic", "consumer", "partition"],
    multiprocess_mode="livemax",
)
OUTBOX_BACKLOG = Gauge(
    "outbox_backlog_events",
    "Events committed to the outbox and not yet published",
    ["service"],
    multiprocess_mode="livemax",
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_event_age_seconds",
    "Age of the oldest event waiting in the outbox (0 when it is empty)",
    ["service"],
    multiprocess_mode="livemax",
)
OUTBOX_RELAY_LAG = Histogram(
    "outbox_relay_lag_seconds",
    "Time from an event's commit to the broker's acknowledgement of it",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Events the outbox relay published", ["service", "topic"]
)

WEBHOOK_HELD_EVENTS = Gauge(
    "webhook_held_events",
    "Stored webhook events whose contract event waits for what it must carry from Stripe "
    "(or behind an earlier held event of its aggregate) before reaching the outbox",
    ["service"],
    multiprocess_mode="livemax",
)
WEBHOOK_HELD_OLDEST_AGE = Gauge(
    "webhook_held_oldest_event_age_seconds",
    "Age of the oldest held webhook event (0 when none is held): growing means what it "
    "must carry cannot be read from Stripe (Stripe away)",
    ["service"],
    multiprocess_mode="livemax",
)
WEBHOOK_VERIFICATION_FAILURES = Counter(
    "webhook_verification_failures_total",
    "Webhook requests refused for their signature: none, or made with none of the endpoint's "
    "secrets (a forgery, a replay past the tolerance, or a secret rotated on one side only)",
    ["service", "endpoint"],
)

RECONCILIATION_DIFFERENCES = Counter(
    "reconciliation_differences_total",
    "Differences reconciliation found between a connected account's ledger and Stripe's "
    "balance transactions, by kind: missing (applied), different (corrected) or unknown "
    "(a ledger entry Stripe does not have: left for an operator)",
    ["service", "kind"],
)
RECONCILIATION_CHECKS = Counter(
    "reconciliation_checks_total",
    "Reconciliation checks of a connected account, by outcome: reconciled, healing "
    "(differences found and applied), mismatch (an entry Stripe does not have, left for an "
    "operator), failed (Stripe or the database away: checked again soon)",
    ["service", "outcome"],
)


SAAS_COLLECTIONS_FAILING = Gauge(
    "saas_collections_failing",
    "SaaS-fee collections (the platform's invoices to agencies) still open after a failed "
    "attempt to take them from the agency's Stripe balance",
    ["service"],
    multiprocess_mode="livemax",
)
SAAS_COLLECTIONS_FAILING_CENTS = Gauge(
    "saas_collections_failing_cents",
    "What the failing SaaS-fee collections amount to, in cents of their currency",
    ["service", "currency"],
    multiprocess_mode="livemax",
)


def registry() -> CollectorRegistry:
    """What ``/metrics`` renders: every worker's samples in multiprocess mode."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    return combined
