"""An ``Idempotency-Key`` replay in the client portal is authorized like a new request: a
client whose token no longer names the workspace gets 404, not the stored answer."""

from __future__ import annotations

import uuid

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import Agency, known_to_subscriptions
from tests.helpers.invoicing.workspaces import register_workspace
from tests.helpers.tokens import Tokens

pytestmark = [pytest.mark.integration]


async def test_a_replay_to_a_client_no_longer_of_the_workspace_is_not_found(
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    tokens: Tokens,
    infra: Infra,
) -> None:
    # The portal asks subscriptions for the workspace's customer: its replica of the agency
    # must know that Connect is enabled (catalog's event reaches it a moment after catalog).
    await known_to_subscriptions(infra.database_url, agency)
    workspace_id = await register_workspace(subscriptions, agency)
    path = f"/v1/portal/workspaces/{workspace_id}/payment-methods/session"
    body = {"return_url": "https://app.example/portal/billing"}
    key = {"Idempotency-Key": f"portal-{uuid.uuid4()}"}
    member = tokens.headers("client", agency.agency_id, sub="pat", workspace_ids=[workspace_id])
    first = await invoicing.post(path, json=body, headers={**member, **key})
    assert first.status_code == 200, first.text

    replay = await invoicing.post(path, json=body, headers={**member, **key})
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()

    removed = tokens.headers("client", agency.agency_id, sub="pat", workspace_ids=["ws-other"])
    refused = await invoicing.post(path, json=body, headers={**removed, **key})
    assert refused.status_code == 404, refused.text
    assert refused.json()["error"]["code"] == "not_found"
    assert "idempotent-replayed" not in refused.headers
