"""Every error is JSON: an exception no handler knows answers 500 ``internal_error`` in the
API's error format, and its log line carries the request's correlation id."""

from __future__ import annotations

import json

import httpx
import pytest

from billing_devstack import free_port
from catalog.app import create_app
from catalog.settings import CatalogSettings

pytestmark = [pytest.mark.unit]


async def test_an_unhandled_exception_answers_500_in_the_error_format_and_is_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    app = create_app(
        CatalogSettings(
            database_url=f"postgresql+asyncpg://postgres@{closed}/none",
            kafka_bootstrap_servers=closed,
        )
    )

    async def broken() -> None:
        raise RuntimeError("a bug in a route")

    app.add_api_route("/v1/broken", broken, methods=["POST"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        response = await client.post("/v1/broken", headers={"X-Correlation-ID": "corr-broken-1"})

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert response.headers["x-correlation-id"] == "corr-broken-1"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    [entry] = [e for e in logged if e.get("event") == "unhandled error"]
    assert entry["correlation_id"] == "corr-broken-1"
    assert entry["path"] == "/v1/broken"
    assert "RuntimeError: a bug in a route" in entry["exception"]


def _catalog_app_without_infrastructure() -> httpx.AsyncClient:
    closed = f"127.0.0.1:{free_port()}"
    app = create_app(
        CatalogSettings(
            database_url=f"postgresql+asyncpg://postgres@{closed}/none",
            kafka_bootstrap_servers=closed,
        )
    )
    seen: list[str] = []

    async def echo(body: dict[str, str]) -> dict[str, str]:
        seen.append(body["name"])
        return body

    app.add_api_route("/v1/echo/{name}", echo, methods=["POST"])
    app.state.seen = seen
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/echo/a?x=%00", b'{"name": "a"}', "query"),
        ("/v1/echo/a%00b", b'{"name": "a"}', "path"),
        ("/v1/echo/a", b'{"name": "nul \\u0000 inside"}', "body"),
        ("/v1/echo/a", b'{"name": "nul \\U0000 inside"}', "body"),
    ],
)
async def test_a_nul_character_anywhere_is_a_validation_error_before_the_route_runs(
    path: str, body: bytes, field: str
) -> None:
    """Postgres text cannot hold U+0000: refused up front, never a 500 from the database."""
    async with _catalog_app_without_infrastructure() as client:
        response = await client.post(path, content=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
        assert response.json()["error"]["fields"][0]["field"] == field
        seen = client._transport.app.state.seen  # type: ignore[attr-defined]
        assert seen == []
        escaped = await client.post(
            "/v1/echo/a",
            content=b'{"name": "a \\\\u0000 b"}',
            headers={"Content-Type": "application/json"},
        )
        assert escaped.status_code == 200, escaped.text  # a backslash, then the text "u0000"
        assert seen == ["a \\u0000 b"]


async def test_an_unreadable_body_is_a_validation_error() -> None:
    async with _catalog_app_without_infrastructure() as client:
        response = await client.post(
            "/v1/echo/a", content=b"4=\xff\xfe", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["fields"][0]["field"] == "body"


def test_every_route_documents_the_errors_any_route_may_answer_as_the_error_shape() -> None:
    closed = f"127.0.0.1:{free_port()}"
    app = create_app(
        CatalogSettings(
            database_url=f"postgresql+asyncpg://postgres@{closed}/none",
            kafka_bootstrap_servers=closed,
        )
    )
    document = app.openapi()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            if path in ("/livez", "/readyz", "/healthz"):
                assert "500" not in responses
                continue
            assert {"401", "422", "500", "503"} <= set(responses), path
            errors = [entry for status, entry in responses.items() if status >= "400"]
            assert all(
                entry["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
                for entry in errors
            ), path
