"""What every service serves for operators: /livez, /readyz, /healthz, /metrics,
/openapi.json, /docs."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from billing_contracts.catalog_agencies import AGENCIES
from billing_devstack import Infra, free_port
from catalog.app import create_app
from catalog.settings import CatalogSettings
from tests.helpers.tokens import TEST_JWT_SECRET, Tokens, new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]

SERVICES = ("catalog", "subscriptions", "invoicing", "webhook-ingest", "revenue")


@pytest.mark.parametrize("name", SERVICES)
async def test_a_running_service_is_healthy_and_measured(
    services: dict[str, str], name: str
) -> None:
    async with httpx.AsyncClient(base_url=services[name]) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "checks": {"database": True, "broker": True}}
        assert (await client.get("/livez")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["details"] == {"database": "ok", "broker": "ok"}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "http_requests_total" in metrics.text
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"] == name


async def test_the_operator_s_alerts_have_their_figures_on_the_running_services(
    services: dict[str, str], tokens: Tokens
) -> None:
    """What ``deploy/``'s alerts read that only a running service reports: a consumer's lag
    after a batch (an agency suspended reaches invoicing's consumer of agencies) and the
    failing SaaS collections (counted on each round of invoicing's retries)."""
    async with (
        httpx.AsyncClient(base_url=services["catalog"]) as catalog,
        httpx.AsyncClient(base_url=services["invoicing"]) as invoicing,
    ):
        path = f"/v1/agencies/{new_agency_id()}/suspension"
        operator = tokens.headers("platform_operator")
        suspended = await catalog.put(path, json={"suspended": True}, headers=operator)
        assert suspended.status_code == 200, suspended.text

        async def reported() -> bool:
            text = (await invoicing.get("/metrics")).text
            lag = [
                line.rpartition(" ")[2]
                for line in text.splitlines()
                if line.startswith("consumer_lag_events{")
                and 'consumer="invoicing.agencies"' in line
                and f'topic="{AGENCIES.name}"' in line
            ]
            failing = re.search(
                r'^saas_collections_failing{service="invoicing"} (\S+)$', text, re.M
            )
            return failing is not None and bool(lag) and min(map(float, lag)) >= 0

        await eventually(reported, within=30)


async def test_health_names_the_dependency_that_is_down(infra: Infra) -> None:
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/billing"
    app = create_app(
        CatalogSettings(database_url=closed, kafka_bootstrap_servers=infra.kafka_bootstrap)
    )
    transport = httpx.ASGITransport(app=app)  # lifespan not run: the broker is not connected
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        live = await client.get("/livez")
    assert health.status_code == 503
    assert health.json() == {
        "status": "unavailable", "checks": {"database": False, "broker": False}
    }  # fmt: skip
    assert ready.status_code == 503
    assert ready.json()["checks"] == health.json()["checks"]
    assert ready.json()["details"]["database"].startswith("unreachable: ")
    assert ready.json()["details"]["broker"] == "unreachable: not connected yet"
    assert live.status_code == 200


async def test_a_service_whose_consumers_are_not_reading_yet_is_not_ready(infra: Infra) -> None:
    app = create_app(
        CatalogSettings(
            database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap
        )
    )
    app.state.runtime.on_startup(asyncio.Event().wait)  # a start that has not finished
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://catalog") as client,
    ):

        async def consumers_starting() -> bool:
            ready = await client.get("/readyz")
            return bool(ready.json()["details"]["broker"] == "consumers starting")

        await eventually(consumers_starting, within=30)
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": True, "broker": False}
        health = await client.get("/healthz")  # the contract: database and broker reachable
        assert health.status_code == 200
        assert health.json()["checks"] == {"database": True, "broker": True}


async def test_the_openapi_document_shows_each_route_s_errors(services: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=services["catalog"]) as client:
        document = (await client.get("/openapi.json")).json()
    create = document["paths"]["/v1/products"]["post"]["responses"]
    assert {"201", "401", "403", "409", "422", "502"} <= set(create)
    assert "connect_required" in create["409"]["description"]


async def test_unknown_paths_and_methods_answer_in_the_error_format(
    services: dict[str, str],
) -> None:
    async with httpx.AsyncClient(base_url=services["catalog"]) as client:
        missing = await client.get("/v1/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


# One path of each service, a method it lacks, and the methods its routes have.
WRONG_METHODS = {
    "catalog": ("DELETE", "/v1/products", {"GET", "POST"}),
    "subscriptions": ("PUT", "/v1/workspaces/ws_x/subscriptions", {"GET", "POST"}),
    "invoicing": ("DELETE", "/v1/workspaces/ws_x/invoices", {"GET", "POST"}),
    "revenue": ("POST", "/v1/revenue/summary", {"GET"}),
    "webhook-ingest": ("GET", "/stripe/webhooks", {"POST"}),
}


@pytest.mark.parametrize("service", sorted(WRONG_METHODS))
async def test_a_method_a_route_lacks_answers_405_naming_those_it_has(
    services: dict[str, str], service: str
) -> None:
    method, path, allowed = WRONG_METHODS[service]
    async with httpx.AsyncClient(base_url=services[service]) as client:
        wrong_method = await client.request(method, path)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in wrong_method.headers["allow"].split(",")} == allowed


async def test_a_request_while_the_database_is_down_answers_503(infra: Infra) -> None:
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/billing"
    app = create_app(
        CatalogSettings(
            database_url=closed,
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            gateway_jwt_secret=TEST_JWT_SECRET,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        response = await client.get("/v1/connect", headers=Tokens().headers("owner", "agency-1"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
