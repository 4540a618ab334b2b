"""The customer request/reply other services use (one-off invoices): a requester on its own
reply topic gets the workspace's one Stripe customer, the same one a subscription gets — also
when both ask first at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from billing_contracts.customer_requests import (
    CUSTOMER_REQUESTS_TOPIC,
    INVOICING_CUSTOMER_REPLIES_TOPIC,
    BillingCustomerReply,
    BillingCustomerRequest,
)
from billing_devstack import Infra
from billing_kit.rpc import KafkaRequester
from tests.helpers.agencies import Agency, start_onboarding
from tests.helpers.runtimes import isolated_runtime
from tests.helpers.tokens import Tokens
from tests.helpers.workspaces import create_product, register_workspace, started

pytestmark = [pytest.mark.integration]

RUNS = 20


@pytest.fixture(scope="module")
async def requester(infra: Infra) -> AsyncIterator[KafkaRequester]:
    """A requester as another service runs it, with a database of its own."""
    runtime = await isolated_runtime(infra, "requester")
    requester = KafkaRequester(runtime, reply_topic=INVOICING_CUSTOMER_REPLIES_TOPIC)
    async with runtime.running():
        yield requester


async def ask(requester: KafkaRequester, agency_id: str, workspace_id: str) -> BillingCustomerReply:
    return await requester.request(
        CUSTOMER_REQUESTS_TOPIC,
        key=workspace_id,
        body=BillingCustomerRequest(agency_id=agency_id, workspace_id=workspace_id),
        reply=BillingCustomerReply,
        timeout=30,
    )


async def test_a_request_gets_the_workspace_s_one_customer(
    subscriptions: httpx.AsyncClient,
    requester: KafkaRequester,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    first = await ask(requester, agency.agency_id, workspace_id)
    assert first.error is None, first.message
    assert first.stripe_account_id == agency.account_id
    assert first.billing_email == "billing@acme.example"
    assert first.stripe_customer_id is not None
    again = await ask(requester, agency.agency_id, workspace_id)
    assert again.stripe_customer_id == first.stripe_customer_id
    customer = stripe_sdk.v1.customers.retrieve(
        first.stripe_customer_id, options={"stripe_account": agency.account_id or ""}
    )
    assert customer.metadata is not None
    assert customer.metadata.to_dict() == {
        "agency_id": agency.agency_id,
        "workspace_id": workspace_id,
    }


async def test_refusals_come_back_as_errors(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    requester: KafkaRequester,
    agency: Agency,
    tokens: Tokens,
) -> None:
    unknown = await ask(requester, agency.agency_id, "no-such-workspace")
    assert (unknown.error, unknown.stripe_customer_id) == ("not_found", None)
    workspace_id = await register_workspace(subscriptions, agency)
    theirs = await ask(requester, "agency-elsewhere", workspace_id)
    assert theirs.error == "not_found"

    pending = await start_onboarding(catalog, tokens)
    pending_workspace = await register_workspace(subscriptions, pending)
    refused = await ask(requester, pending.agency_id, pending_workspace)
    assert refused.error == "connect_required"
    assert refused.message is not None
    assert "Connect Stripe to start billing" in refused.message


async def test_a_first_subscription_and_a_first_request_share_one_customer(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    requester: KafkaRequester,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
) -> None:
    product_id = await create_product(catalog, agency)
    warm_up = await register_workspace(subscriptions, agency)
    await started(subscriptions, agency, warm_up, product_id)  # replicas are in place
    for _ in range(RUNS):
        workspace_id = await register_workspace(subscriptions, agency)
        subscription, reply = await asyncio.gather(
            subscriptions.post(
                f"/v1/workspaces/{workspace_id}/subscriptions",
                json={"product_id": product_id},
                headers=agency.admin,
            ),
            ask(requester, agency.agency_id, workspace_id),
        )
        assert subscription.status_code == 201, subscription.text
        assert reply.error is None, reply.message
        assert reply.stripe_customer_id == subscription.json()["stripe_customer_id"]
        on_account = stripe_sdk.v1.customers.list(
            params={"limit": 100}, options={"stripe_account": agency.account_id or ""}
        )
        made = [
            customer.id
            for customer in on_account.auto_paging_iter()
            if customer.metadata is not None
            and customer.metadata.to_dict().get("workspace_id") == workspace_id
        ]
        assert made == [reply.stripe_customer_id]
