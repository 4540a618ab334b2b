"""Webhook → client portal: how soon each state Stripe reaches shows in the client's portal.

The whole stack runs on the emulator, which posts its webhooks to webhook-ingest as Stripe
would. ``--rounds`` times, one after another on an otherwise idle stack: the agency charges a
client workspace for a project through our API and the client pays it (→ ``paid``); the agency
refunds part of it (→ ``refunded``); a second project is paid with a card whose charge gets
disputed (→ ``disputed``); a subscription made on Stripe charges its first invoice
(→ ``subscription paid``). Each latency runs from Stripe's answer to the call (the emulator
sends the webhook then) to the first portal read showing the state, reading every 10 ms: an
upper bound on webhook → visible. The target is under a second. p50/p95/max per state.

    flock /tmp/billing-stack.lock uv run python -m bench.invoice_states --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import stripe

from bench.tooling import locked_stack
from bench.webhook_ingest import percentile
from billing_devstack import Stack
from tests.helpers.agencies import Agency, known_to_subscriptions, onboarded_agency
from tests.helpers.invoicing import flows
from tests.helpers.services import SERVICE_NAMES, serve_all
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import TEST_JWT_SECRET, Tokens

POLL = 0.01
Expected = Callable[[dict[str, Any]], bool]


def _paid(invoice: dict[str, Any]) -> bool:
    return bool(invoice["status"] == "paid")


def _disputed(invoice: dict[str, Any]) -> bool:
    return invoice["status"] == "paid" and invoice["dispute"] is not None


async def _round(
    urls: dict[str, str], sdk: stripe.StripeClient, agency: Agency, tokens: Tokens
) -> dict[str, float]:
    """One of each state; state → milliseconds from Stripe's answer to the portal showing it."""
    taken: dict[str, float] = {}
    async with (
        httpx.AsyncClient(base_url=urls["invoicing"], timeout=30) as invoicing,
        httpx.AsyncClient(base_url=urls["subscriptions"], timeout=30) as subscriptions,
    ):

        async def shown_after(
            answered: float, client: flows.Client, invoice_id: str, expected: Expected
        ) -> float:
            _, seen = await flows.shows(invoicing, client, invoice_id, expected, poll=POLL)
            return seen - answered

        async def project_paid(
            amount: int, card: str, expected: Expected
        ) -> tuple[flows.Client, str, float]:
            client, invoice_id = await flows.charge_for_project(
                invoicing, subscriptions, agency, tokens, amount
            )
            answered = await flows.pay(sdk, client, invoice_id, card)
            return client, invoice_id, await shown_after(answered, client, invoice_id, expected)

        client, invoice_id, taken["paid"] = await project_paid(48_000, "pm_card_visa", _paid)
        charge = await flows.charge_of(sdk, client, invoice_id)
        await sdk.v1.refunds.create_async(
            params={"charge": charge.id, "amount": 10_000}, options=client.options
        )
        taken["refunded"] = await shown_after(
            time.time(), client, invoice_id, lambda i: i["amount_refunded_cents"] == 10_000
        )
        *_, taken["disputed"] = await project_paid(90_000, "pm_card_createDispute", _disputed)

        client = await flows.client_of(agency, sdk, tokens)
        subscription = await flows.subscribe(sdk, client, "pm_card_visa")
        taken["subscription paid"] = await shown_after(
            time.time(), client, subscription.latest_invoice, _paid
        )
    return {state: seconds * 1000 for state, seconds in taken.items()}


async def _measure(stack: Stack, urls: dict[str, str], rounds: int) -> list[dict[str, float]]:
    api_base = stack.infra.stripe_api_base
    assert api_base is not None
    sdk = emulator_sdk(api_base)  # retries a connection the emulator closed
    tokens = Tokens(secret=TEST_JWT_SECRET)
    async with (
        httpx.AsyncClient(base_url=urls["catalog"], timeout=30) as catalog,
        httpx.AsyncClient(base_url=api_base, timeout=30) as emulator,
    ):
        agency = await onboarded_agency(catalog, emulator, tokens, stack.infra.kafka_bootstrap)
    await known_to_subscriptions(stack.infra.database_url, agency)
    await _round(urls, sdk, agency, tokens)  # warm-up: connections, caches, replicas
    return [await _round(urls, sdk, agency, tokens) for _ in range(rounds)]


def bench_invoice_states(stack: Stack, rounds: int) -> None:
    urls = serve_all(stack)
    try:
        samples = asyncio.run(_measure(stack, urls, rounds))
    finally:
        for name in reversed(SERVICE_NAMES):
            stack.stop_service(name)
    for state in samples[0]:
        taken = [sample[state] for sample in samples]
        figures = {
            "p50_ms": round(statistics.median(taken), 1),
            "p95_ms": round(percentile(taken, 95), 1),
            "max_ms": round(max(taken), 1),
        }
        print(json.dumps({"bench": "invoice-states", "state": state, "rounds": rounds, **figures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with locked_stack("invoice states") as stack:
        bench_invoice_states(stack, args.rounds)


if __name__ == "__main__":
    main()
