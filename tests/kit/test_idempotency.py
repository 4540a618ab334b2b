"""``Idempotency-Key`` on a running service: a replay goes only to the caller who made the
first request, after the same authentication and role checks as a new request; the body is
compared as JSON."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.helpers.tokens import Tokens, new_agency_id

pytestmark = [pytest.mark.integration]

ONBOARDING = {
    "return_url": "https://agency.example/back",
    "refresh_url": "https://agency.example/again",
}


def _post(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, body: bytes
) -> httpx.Request:
    return client.build_request(
        "POST",
        "/v1/connect/onboarding",
        content=body,
        headers={**headers, "Idempotency-Key": key, "Content-Type": "application/json"},
    )


async def test_a_key_never_returns_another_caller_s_response(
    services: dict[str, str], tokens: Tokens
) -> None:
    agency_id = new_agency_id()
    owner = tokens.headers("owner", agency_id, sub="owner-1")
    key = f"onboard-{uuid.uuid4()}"
    body = json.dumps(ONBOARDING).encode()
    async with httpx.AsyncClient(base_url=services["catalog"], timeout=30) as client:
        first = await client.send(_post(client, owner, key, body))
        assert first.status_code == 200, first.text

        for role in ("member", "client"):
            other = tokens.headers(role, agency_id, sub=f"{role}-1", workspace_ids=["ws"])
            refused = await client.send(_post(client, other, key, body))
            assert refused.status_code == 403, (role, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
            assert "idempotent-replayed" not in refused.headers

        second_owner = tokens.headers("owner", agency_id, sub="owner-2")
        fresh = await client.send(_post(client, second_owner, key, body))
        assert fresh.status_code == 200, fresh.text
        assert "idempotent-replayed" not in fresh.headers

        reordered = json.dumps(dict(reversed(ONBOARDING.items())), indent=4).encode()
        replay = await client.send(_post(client, owner, key, reordered))
        assert replay.status_code == 200
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == first.json()

        changed = json.dumps({**ONBOARDING, "return_url": "https://elsewhere"}).encode()
        reused = await client.send(_post(client, owner, key, changed))
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "validation_error"


async def test_a_key_without_a_valid_token_is_refused_as_without_a_key(
    services: dict[str, str],
) -> None:
    async with httpx.AsyncClient(base_url=services["catalog"], timeout=30) as client:
        response = await client.send(
            _post(client, {"Authorization": "Bearer nonsense"}, "k-1", b"{}")
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
