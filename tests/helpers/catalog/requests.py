"""The catalog requests the API tests make, and how they read its errors."""

from __future__ import annotations

import httpx

from tests.helpers.agencies import Agency

RETAINER = {"name": "Automation retainer", "cadence": "monthly", "amount_cents": 250_000}


async def create(catalog: httpx.AsyncClient, agency: Agency, **body: object) -> httpx.Response:
    return await catalog.post("/v1/products", json={**RETAINER, **body}, headers=agency.admin)


def error_of(response: httpx.Response) -> dict[str, object]:
    error: dict[str, object] = response.json()["error"]
    return error
