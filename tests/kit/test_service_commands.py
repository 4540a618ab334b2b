"""``python -m <service>``: its commands, and its refusal to start in production with a
public development secret. Processes only, no test stack."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from billing_devstack import free_port
from webhook_ingest.settings import WebhookIngestSettings

PACKAGES = ("catalog", "subscriptions", "invoicing", "webhook_ingest", "revenue")
UNSET = {"BILLING_ENV", *WebhookIngestSettings.production_secret_variables()}


def _env(**values: str) -> dict[str, str]:
    """The test's environment without development mode nor any secret, plus ``values``; the
    database and broker point at closed ports (nothing here may need them)."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none"
    env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    return {**env, **values}


def _run(package: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", package, *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.unit
@pytest.mark.slow  # starts the service's process: seconds
@pytest.mark.parametrize("package", PACKAGES)
def test_help_lists_the_service_s_commands(package: str) -> None:
    result = _run(package, "--help")
    assert result.returncode == 0, result.stderr
    assert f"Usage: python -m {package}" in result.stdout
    for command in ("serve", "migrate", "revision", "check-migrations", "openapi"):
        assert command in result.stdout


@pytest.mark.unit
@pytest.mark.slow  # starts the service's process: seconds
def test_an_unknown_command_is_refused_with_usage() -> None:
    result = _run("catalog", "serv")
    assert result.returncode == 2
    assert "No such command 'serv'" in result.stderr


@pytest.mark.unit
@pytest.mark.slow  # starts the service's process: seconds
@pytest.mark.parametrize(
    ("package", "named"),
    [
        ("catalog", ["STRIPE_API_KEY", "GATEWAY_JWT_SECRET"]),
        (
            "webhook_ingest",
            [
                "STRIPE_API_KEY",
                "GATEWAY_JWT_SECRET",
                "STRIPE_WEBHOOK_SECRETS",
                "STRIPE_CONNECT_WEBHOOK_SECRETS",
            ],
        ),
    ],
)
def test_production_without_its_secrets_refuses_to_start_in_one_line(
    package: str, named: list[str]
) -> None:
    result = _run(package, "serve")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"{package}: refusing to start: {', '.join(named)} are not set")


@pytest.mark.unit
@pytest.mark.slow  # starts the service's process: seconds
def test_the_public_development_secret_is_refused_in_production() -> None:
    result = _run(
        "catalog",
        "serve",
        STRIPE_API_KEY="sk_live_a_real_key",
        GATEWAY_JWT_SECRET="dev-gateway-secret-change-me-before-production",
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "refusing to start: GATEWAY_JWT_SECRET is not set" in line


@pytest.mark.unit
@pytest.mark.slow  # starts the service's process: seconds
def test_development_mode_starts_and_stays_alive_without_database_or_broker() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "catalog", "serve"],
        env=_env(BILLING_ENV="development", CATALOG_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        live = None
        while live is None and process.poll() is None and time.monotonic() < deadline:
            try:
                live = httpx.get(f"{base}/livez", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
        assert live is not None, process.stderr.read() if process.stderr else "no output"
        assert live.status_code == 200
        assert live.json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"] == {"database": False, "broker": False}
        assert body["details"]["broker"].startswith("unreachable")
        assert process.poll() is None  # still serving
    finally:
        process.terminate()
        process.wait(timeout=20)
