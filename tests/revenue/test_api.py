"""revenue over HTTP against the running stack: who may read revenue, bad periods, and
charging health built from invoice and subscription events."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from billing_contracts.billing_invoices import (
    STRIPE_INVOICES,
    StripeInvoiceFinalized,
    StripeInvoicePaid,
    StripeInvoicePaymentFailed,
)
from billing_contracts.billing_subscriptions import (
    STRIPE_SUBSCRIPTIONS,
    StripeSubscriptionSnapshot,
    StripeSubscriptionUpdated,
)
from billing_devstack import Infra
from tests.helpers.kafka import publish
from tests.helpers.revenue.invoices import invoice_snapshot
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


async def test_revenue_needs_a_token_and_the_owner(
    revenue: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency_id = new_agency_id()
    paths = ("/v1/revenue/summary", "/v1/revenue/subscriptions", "/v1/revenue/dashboard",
             "/v1/revenue/payouts", "/v1/revenue/mrr")  # fmt: skip
    for path in paths:
        assert (await revenue.get(path)).status_code == 401
        for role in ("admin", "member", "client"):
            refused = await revenue.get(path, headers=tokens.headers(role, agency_id))
            assert refused.status_code == 403, (path, role)
            assert refused.json()["error"]["code"] == "forbidden"
        allowed = await revenue.get(path, headers=tokens.headers("owner", agency_id))
        assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-13-01", "to": "2026-12-31"},
        {"from": "yesterday"},
        {"from": "2026-05-01", "to": "2026-04-30"},
        {"currency": "US dollars"},
        {"workspaces_limit": "0"},
        {"workspaces_limit": "10001"},
    ],
)
async def test_a_bad_period_is_a_validation_error(
    revenue: httpx.AsyncClient, tokens: Tokens, query: dict[str, str]
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    response = await revenue.get("/v1/revenue/summary", params=query, headers=owner)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-05-01", "to": "2026-04-30"}, "to"),
        ({"from": "2016-04-29", "to": "2026-04-30"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"to": "soon"}, "to"),
    ],
)
async def test_a_bad_payout_period_is_refused_naming_the_field(
    revenue: httpx.AsyncClient, tokens: Tokens, query: dict[str, str], field: str
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    response = await revenue.get("/v1/revenue/payouts", params=query, headers=owner)
    assert response.status_code == 422, response.text
    assert field in {f["field"] for f in response.json()["error"]["fields"]}


async def test_ten_years_of_payouts_may_be_asked_for_and_an_unknown_payout_is_404(
    revenue: httpx.AsyncClient, tokens: Tokens
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    ten_years = {"from": "2016-04-30", "to": "2026-04-30"}
    listed = await revenue.get("/v1/revenue/payouts", params=ten_years, headers=owner)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"data": []}
    missing = await revenue.get("/v1/revenue/payouts/po_nobody", headers=owner)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_a_new_agency_has_made_nothing_over_the_days_asked(
    revenue: httpx.AsyncClient, tokens: Tokens
) -> None:
    owner = tokens.headers("owner", new_agency_id())
    response = await revenue.get(
        "/v1/revenue/summary", params={"from": "2026-02-10", "to": "2026-03-05"}, headers=owner
    )
    body = response.json()
    assert (body["period_from"], body["period_to"]) == ("2026-02-10", "2026-03-05")
    assert body["gross_cents"] == body["net_cents"] == 0
    assert body["workspaces"] == body["months"] == []


async def test_charging_health_tells_last_paid_and_failing_since_in_any_order(
    revenue: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> None:
    agency_id, account = new_agency_id(), f"acct_{uuid.uuid4().hex[:16]}"
    sub = f"sub_{uuid.uuid4().hex[:16]}"
    first, renewal = f"in_{uuid.uuid4().hex[:16]}", f"in_{uuid.uuid4().hex[:16]}"
    t0 = int(time.time()) - 40 * 86400
    paid = invoice_snapshot(
        agency_id, account, sub, t0, invoice_id=first, status="paid", paid_at=t0
    )
    failed = [
        invoice_snapshot(agency_id, account, sub, t0 + 31 * 86400 + n * 86400, invoice_id=renewal,
                         status="open", attempt_count=n + 1)
        for n in range(3)
    ]  # fmt: skip
    opened = invoice_snapshot(
        agency_id, account, sub, t0 + 31 * 86400, invoice_id=renewal, status="open"
    )
    status = StripeSubscriptionSnapshot(
        subscription_id=sub,
        status="past_due",
        stripe_event_id=f"evt_{uuid.uuid4().hex[:20]}",
        stripe_created=t0 + 32 * 86400,
        stripe_account_id=account,
        metadata={"agency_id": agency_id, "workspace_id": "ws-health"},
    )
    # Newest first: the last failure before the first, the finalization after the failures.
    await publish(
        infra.kafka_bootstrap,
        STRIPE_INVOICES,
        *(StripeInvoicePaymentFailed(agency_id=agency_id, payload=p) for p in reversed(failed)),
        StripeInvoiceFinalized(agency_id=agency_id, payload=opened),
        StripeInvoicePaid(agency_id=agency_id, payload=paid),
    )
    await publish(
        infra.kafka_bootstrap,
        STRIPE_SUBSCRIPTIONS,
        StripeSubscriptionUpdated(agency_id=agency_id, payload=status),
    )
    owner = tokens.headers("owner", agency_id)

    async def reported() -> bool:
        # Until every event is in: the first failure told may be a later attempt.
        data = (await revenue.get("/v1/revenue/subscriptions", headers=owner)).json()["data"]
        return (
            bool(data)
            and data[0]["status"] == "past_due"
            and bool(data[0]["failing_since"])
            and _unix(data[0]["failing_since"]) == failed[0].stripe_created
        )

    await eventually(reported)
    [health] = (await revenue.get("/v1/revenue/subscriptions", headers=owner)).json()["data"]
    assert health["subscription_id"] == sub
    assert health["workspace_id"] == "ws-health"
    assert _unix(health["last_paid_at"]) == t0
    assert _unix(health["failing_since"]) == failed[0].stripe_created

    renewal_paid = invoice_snapshot(
        agency_id, account, sub, t0 + 36 * 86400, invoice_id=renewal, status="paid",
        paid_at=t0 + 36 * 86400,
    )  # fmt: skip
    await publish(
        infra.kafka_bootstrap,
        STRIPE_INVOICES,
        StripeInvoicePaid(agency_id=agency_id, payload=renewal_paid),
    )

    async def recovered() -> bool:
        [row] = (await revenue.get("/v1/revenue/subscriptions", headers=owner)).json()["data"]
        return row["failing_since"] is None and _unix(row["last_paid_at"]) == t0 + 36 * 86400

    await eventually(recovered)


def _unix(stamp: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(stamp).timestamp())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-05-01", "to": "2026-04-30"}, "to"),
        ({"from": "2016-04-29", "to": "2026-04-30"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"agencies_limit": "0"}, "agencies_limit"),
        ({"agencies_limit": "1001"}, "agencies_limit"),
        ({"currency": "dollars"}, "currency"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/platform/overview", "/v1/platform/back-office"])
async def test_a_bad_overview_question_is_refused_naming_the_field(
    revenue: httpx.AsyncClient, tokens: Tokens, query: dict[str, str], field: str, path: str
) -> None:
    operator = tokens.headers("platform_operator")
    response = await revenue.get(path, params=query, headers=operator)
    assert response.status_code == 422, response.text
    assert field in {f["field"] for f in response.json()["error"]["fields"]}


async def test_ten_years_of_the_platform_may_be_asked_for_and_pages_follow_each_other(
    revenue: httpx.AsyncClient, tokens: Tokens
) -> None:
    operator = tokens.headers("platform_operator")
    days = {"from": "2016-04-30", "to": "2026-04-30"}
    whole = await revenue.get("/v1/platform/overview", params=days, headers=operator)
    assert whole.status_code == 200, whole.text
    first = await revenue.get(
        "/v1/platform/overview", params={**days, "agencies_limit": "1"}, headers=operator
    )
    body = first.json()
    assert len(body["agencies"]) <= 1
    if body["agencies_next"] is not None:
        second = await revenue.get(
            "/v1/platform/overview",
            params={**days, "agencies_limit": "1", "agencies_after": body["agencies_next"]},
            headers=operator,
        )
        assert second.json()["agencies"][0]["agency_id"] != body["agencies"][0]["agency_id"]
