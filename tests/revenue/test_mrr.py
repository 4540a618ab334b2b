"""The owner's MRR over HTTP from subscription and invoice events through revenue's
consumers, told newest first: a monthly retainer paid, migrated up, then cancelled, and a
yearly one counted as a twelfth; bad months are refused naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from billing_contracts.billing_invoices import STRIPE_INVOICES, StripeInvoicePaid
from billing_contracts.billing_subscriptions import (
    STRIPE_SUBSCRIPTIONS,
    StripeSubscriptionItem,
    StripeSubscriptionSnapshot,
    StripeSubscriptionUpdated,
)
from billing_devstack import Infra
from tests.helpers.kafka import publish
from tests.helpers.revenue.invoices import invoice_snapshot
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


def _at(month: int, day: int = 10) -> int:
    return int(datetime(2025, month, day, tzinfo=UTC).timestamp())


def _subscription(
    agency_id: str, account: str, sub: str, at: int, status: str, amount: int, interval: str
) -> StripeSubscriptionSnapshot:
    return StripeSubscriptionSnapshot(
        subscription_id=sub,
        status=status,
        currency="usd",
        stripe_event_id=f"evt_{uuid.uuid4().hex[:20]}",
        stripe_created=at,
        stripe_account_id=account,
        metadata={"agency_id": agency_id, "workspace_id": f"ws-{sub[-6:]}"},
        items=[
            StripeSubscriptionItem(
                item_id=f"si_{sub[-8:]}",
                unit_amount=amount,
                quantity=1,
                interval=interval,
                interval_count=1,
            )
        ],
    )


async def test_mrr_moves_with_payments_migrations_and_cancellations_told_in_any_order(
    revenue: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> None:
    agency_id, account = new_agency_id(), f"acct_{uuid.uuid4().hex[:16]}"
    monthly, yearly = f"sub_{uuid.uuid4().hex[:16]}", f"sub_{uuid.uuid4().hex[:16]}"
    states = [
        _subscription(agency_id, account, monthly, _at(1), "active", 100_000, "month"),
        _subscription(agency_id, account, monthly, _at(3), "active", 150_000, "month"),
        _subscription(agency_id, account, monthly, _at(5), "canceled", 150_000, "month"),
        _subscription(agency_id, account, yearly, _at(2), "active", 1_200_006, "year"),
    ]
    paid = [
        invoice_snapshot(agency_id, account, sub, at, invoice_id=f"in_{uuid.uuid4().hex[:16]}",
                 status="paid", paid_at=at).model_copy(
            update={"metadata": {"agency_id": agency_id, "workspace_id": f"ws-{sub[-6:]}"}}
        )
        for sub, at in ((monthly, _at(1)), (yearly, _at(2)))
    ]  # fmt: skip
    await publish(
        infra.kafka_bootstrap,
        STRIPE_SUBSCRIPTIONS,
        *(StripeSubscriptionUpdated(agency_id=agency_id, payload=s) for s in reversed(states)),
    )
    await publish(
        infra.kafka_bootstrap,
        STRIPE_INVOICES,
        *(StripeInvoicePaid(agency_id=agency_id, payload=p) for p in paid),
    )
    owner = tokens.headers("owner", agency_id)
    query = {"from": "2025-01", "to": "2025-06"}
    seen: dict[str, Any] = {}

    async def counted() -> bool:
        nonlocal seen
        seen = (await revenue.get("/v1/revenue/mrr", params=query, headers=owner)).json()
        return [m["mrr_cents"] for m in seen["months"]] == [
            100_000, 200_001, 250_001, 250_001, 100_001, 100_001,
        ]  # fmt: skip

    await eventually(counted, within=60)
    moves = [
        (m["month"], m["new_cents"], m["expansion_cents"], m["churned_cents"],
         m["active_subscriptions"])
        for m in seen["months"]
    ]  # fmt: skip
    assert moves == [
        ("2025-01", 100_000, 0, 0, 1),
        ("2025-02", 100_001, 0, 0, 2),  # 1,200,006 a year: 100,000.5 a month, half up
        ("2025-03", 0, 50_000, 0, 2),
        ("2025-04", 0, 0, 0, 2),
        ("2025-05", 0, 0, 150_000, 1),
        ("2025-06", 0, 0, 0, 1),
    ]
    assert seen["arr_cents"] == 100_001 * 12
    one = await revenue.get(
        "/v1/revenue/mrr", params={**query, "workspace_id": f"ws-{yearly[-6:]}"}, headers=owner
    )
    assert [m["mrr_cents"] for m in one.json()["months"]] == [0] + [100_001] * 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-13"}, "from"),
        ({"to": "2026-1"}, "to"),
        ({"from": "2026-05", "to": "2026-04"}, "to"),
        ({"from": "2016-03", "to": "2026-04"}, "from"),
        ({"from": "0000-01"}, "from"),
        ({"from": "9999-01", "to": "9999-12"}, "to"),
    ],
)
async def test_a_month_that_is_no_month_or_a_bad_range_is_refused_naming_the_field(
    revenue: httpx.AsyncClient, tokens: Tokens, query: dict[str, str], field: str
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    response = await revenue.get("/v1/revenue/mrr", params=query, headers=owner)
    assert response.status_code == 422, response.text
    assert field in {f["field"] for f in response.json()["error"]["fields"]}


async def test_a_new_agency_has_twelve_months_of_nothing(
    revenue: httpx.AsyncClient, tokens: Tokens
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    body = (await revenue.get("/v1/revenue/mrr", headers=owner)).json()
    assert len(body["months"]) == 12
    assert body["months"][-1]["month"] == datetime.now(UTC).strftime("%Y-%m")
    assert {m["mrr_cents"] for m in body["months"]} == {0}
    assert body["arr_cents"] == 0


async def test_months_of_the_first_millennium_keep_four_digits(
    revenue: httpx.AsyncClient, tokens: Tokens
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    answer = await revenue.get("/v1/revenue/mrr", params={"to": "0097-03"}, headers=owner)
    assert answer.status_code == 200, answer.text
    months = [m["month"] for m in answer.json()["months"]]
    assert (months[0], months[-1], len(months)) == ("0096-04", "0097-03", 12)
    first = await revenue.get("/v1/revenue/mrr", params={"to": "0001-05"}, headers=owner)
    assert [m["month"] for m in first.json()["months"]] == [f"0001-0{n}" for n in range(1, 6)]
