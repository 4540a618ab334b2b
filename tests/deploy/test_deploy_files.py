"""The production-like files describe the same system as the embedded stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PORTS = {
    "catalog": 8101,
    "subscriptions": 8102,
    "invoicing": 8103,
    "webhook-ingest": 8104,
    "revenue": 8105,
    "stripe-emulator": 12111,
}
SHARED_VARIABLES = {
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "STRIPE_API_BASE",
    "STRIPE_API_KEY",
    "GATEWAY_JWT_SECRET",
    "STRIPE_WEBHOOK_SECRETS",
    "STRIPE_CONNECT_WEBHOOK_SECRETS",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_every_service_from_one_image_with_health_checks() -> None:
    services = compose()["services"]
    for name, port in PORTS.items():
        service = services[name]
        assert service["build"] == "."
        assert f"{port}:{port}" in service["ports"]
        assert "healthz" in " ".join(service["healthcheck"]["test"]), name


def test_compose_uses_kafka_in_kraft_mode_and_postgres() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:")


def test_every_service_gets_the_shared_variables_and_listens_beyond_loopback() -> None:
    services = compose()["services"]
    for name in ("catalog", "subscriptions", "invoicing", "webhook-ingest", "revenue"):
        env = services[name]["environment"]
        assert set(env) >= SHARED_VARIABLES, name
        prefix = name.upper().replace("-", "_")
        assert env[f"{prefix}_HOST"] == "0.0.0.0"
        assert env[f"{prefix}_PORT"] == PORTS[name]


def test_every_variable_is_listed_in_the_env_example() -> None:
    example = (REPO / ".env.example").read_text()
    for variable in SHARED_VARIABLES | {f"{n.upper().replace('-', '_')}_PORT" for n in PORTS}:
        assert variable in example, variable


def test_the_cluster_base_runs_each_service_with_migrations_first() -> None:
    documents = list(yaml.safe_load_all((REPO / "deploy/k8s/services.yaml").read_text()))
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert set(deployments) == set(PORTS) - {"stripe-emulator"}
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["initContainers"][0]["args"][-1] == "migrate"
        assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/healthz"
