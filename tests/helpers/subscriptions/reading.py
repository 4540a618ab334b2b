"""Reading what subscriptions answered: an error's body, a product's status in its replica
of catalog's products."""

from __future__ import annotations

import httpx

from billing_devstack import Infra
from tests.helpers.databases import connect


def error_of(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    return error


async def replicated_status(infra: Infra, product_id: str) -> str | None:
    """The product's status in subscriptions' replica of catalog's products."""
    conn = await connect(infra.database_url)
    try:
        query = "SELECT status FROM subscriptions.product_replicas WHERE product_id = $1"
        status: str | None = await conn.fetchval(query, product_id)
        return status
    finally:
        await conn.close()
