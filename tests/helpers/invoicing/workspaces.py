"""Client workspaces as agencies register them with subscriptions (which owns them and makes
their one Stripe customer)."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers.agencies import Agency


async def register_workspace(subscriptions: httpx.AsyncClient, agency: Agency) -> str:
    """A new workspace of ``agency`` with a billing contact; returns its id."""
    workspace_id = f"ws-{uuid.uuid4().hex[:10]}"
    response = await subscriptions.put(
        f"/v1/workspaces/{workspace_id}",
        json={
            "name": "Acme Co",
            "billing_contact": {"email": "ap@acme.example", "name": "Accounts payable"},
            "client_members": [{"user_id": "u-1", "email": "pat@acme.example", "name": "Pat"}],
        },
        headers=agency.admin,
    )
    assert response.status_code == 200, response.text
    return workspace_id
