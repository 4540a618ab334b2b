"""Every service's HTTP API under generated requests: schemathesis reads each running
service's OpenAPI document and sends valid and invalid requests (bodies, query strings, path
parameters) with valid tokens of a role the route serves. No answer may be a 5xx; every 4xx
must be the API's error shape with a code the operation documents; every answer must be one
the document lists, with the content type and body schema it states."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case as GeneratedCase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.tokens import Tokens
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    PLATFORM_SECRET,
    signature_header,
)

Case = GeneratedCase[Any]

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICES = ("catalog", "subscriptions", "invoicing", "webhook-ingest", "revenue")
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 12}
"""Per operation and mode: ~40 operations x 24 requests keep the whole run near a minute."""

WEBHOOK_SECRETS = {"/stripe/webhooks": PLATFORM_SECRET, "/stripe/webhooks/connect": CONNECT_SECRET}
OPERATOR_PATHS = re.compile(r"^/v1/(agencies/\{agency_id\}/suspension|replay)$")
DOCUMENTED_CODE = re.compile(r"\b[a-z_]+\b")
FIXED_VALID_BODIES = {"/v1/replay": {"from": "2020-01-01T00:00:00Z", "to": "2020-01-01T00:05:00Z"}}
"""Valid requests that would replay all of Stripe's history are made over a range in the past
(invalid ones are still generated)."""


@pytest.fixture(scope="module")
async def fuzzed_agency(services: dict[str, str], infra: Infra, tokens: Tokens) -> Agency:
    """An agency that finished Connect onboarding, so billing routes go past the gate."""
    assert infra.stripe_api_base is not None
    async with (
        httpx.AsyncClient(base_url=services["catalog"], timeout=30) as catalog,
        httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator,
    ):
        return await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)


def _caller(case: Case, agency: Agency, tokens: Tokens) -> dict[str, str]:
    """A token of a role the route serves (the role matrix covers the others)."""
    path = case.operation.path
    if path.startswith("/v1/portal/"):
        workspace = str((case.path_parameters or {}).get("workspace_id", ""))
        return tokens.headers("client", agency.agency_id, workspace_ids=[workspace])
    if OPERATOR_PATHS.match(path):
        return tokens.headers("platform_operator")
    return agency.owner


def _documented_codes(case: Case, status: int) -> set[str]:
    """The error codes the operation's document lists for ``status`` (in its description)."""
    responses = case.operation.definition.raw.get("responses", {})
    entry = responses.get(str(status)) or {}
    return set(DOCUMENTED_CODE.findall(str(entry.get("description", ""))))


def _check_error_shape(case: Case, response: requests.Response) -> None:
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("message"), str), body
    assert error["message"], body
    assert error["code"] in _documented_codes(case, response.status_code), (
        f"{case.operation.label} answered {response.status_code} {error['code']}, "
        f"which its document does not list"
    )
    if error["code"] == "validation_error":
        assert all(set(field) == {"field", "message"} for field in error.get("fields", [])), body


def _send(case: Case, base_url: str, headers: dict[str, str], session: requests.Session) -> Any:
    secret = WEBHOOK_SECRETS.get(case.operation.path)
    if secret is None:
        return case.call(base_url=base_url, headers=headers, session=session, timeout=30)
    # A Stripe delivery: the generated event, correctly signed, so it reaches the parser.
    body = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    headers = {"Stripe-Signature": signature_header(body, secret)}
    headers["Content-Type"] = "application/json"
    return session.post(f"{base_url}{case.formatted_path}", data=body, headers=headers, timeout=30)


def _fuzz(base_url: str, agency: Agency, tokens: Tokens) -> tuple[list[str], list[str]]:
    """The operations fuzzed, and what each found wrong (its smallest failing request)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    fuzzed, failures = [], []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an invalid document fails here
            for mode, examples in EXAMPLES.items():
                fixed = FIXED_VALID_BODIES.get(operation.path)
                strategy = (
                    operation.as_strategy(generation_mode=mode, body=fixed)
                    if fixed is not None and mode is GenerationMode.POSITIVE
                    else operation.as_strategy(generation_mode=mode)
                )

                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def answers_as_documented(case: Case) -> None:
                    response = _send(case, base_url, _caller(case, agency, tokens), session)
                    case.validate_response(response, checks=checks)
                    _check_error_shape(case, response)

                try:
                    answers_as_documented()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # no parameter to make invalid
                except (Exception, BaseExceptionGroup) as failure:
                    failures.append(f"{operation.label} ({mode.value}): {failure}")
            fuzzed.append(operation.label)
    return fuzzed, failures


@pytest.mark.parametrize("service", SERVICES)
async def test_generated_requests_get_documented_answers(
    service: str, services: dict[str, str], fuzzed_agency: Agency, tokens: Tokens
) -> None:
    fuzzed, failures = await asyncio.to_thread(_fuzz, services[service], fuzzed_agency, tokens)
    assert not failures, "\n\n".join(failures)
    assert any(label.startswith(("GET /v1", "POST /")) for label in fuzzed), fuzzed
