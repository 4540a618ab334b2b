"""The five services: ``python -m <package> migrate`` then ``python -m <package> serve``."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from billing_devstack.broker import BROKER_ENV
from billing_devstack.emulator import webhook_secrets
from billing_devstack.paths import log_path, pid_path
from billing_devstack.processes import (
    DevstackError,
    ManagedProcess,
    run_to_completion,
    wait_healthy,
)
from billing_kit.settings import DEV_JWT_SECRET

DEV_STRIPE_API_KEY = "sk_test_emulator"


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # as in docs/api.md and the log file name
    package: str  # importable package run with ``python -m``
    port_env: str
    default_port: int

    def port(self, env: Mapping[str, str] | None = None) -> int:
        source = os.environ if env is None else env
        return int(source.get(self.port_env) or self.default_port)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("catalog", "catalog", "CATALOG_PORT", 8101),
    ServiceSpec("subscriptions", "subscriptions", "SUBSCRIPTIONS_PORT", 8102),
    ServiceSpec("invoicing", "invoicing", "INVOICING_PORT", 8103),
    ServiceSpec("webhook-ingest", "webhook_ingest", "WEBHOOK_INGEST_PORT", 8104),
    ServiceSpec("revenue", "revenue", "REVENUE_PORT", 8105),
)
BY_NAME: dict[str, ServiceSpec] = {
    **{spec.name: spec for spec in SERVICES},
    **{spec.package: spec for spec in SERVICES},
}


def spec(name: str) -> ServiceSpec:
    """A service by its name (``webhook-ingest``) or package (``webhook_ingest``)."""
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(s.name for s in SERVICES)
        raise DevstackError(f"unknown service {name!r} (known: {known})") from None


def select(only: Iterable[str] | None) -> list[ServiceSpec]:
    """The services named in ``only`` (comma-separated entries allowed), else all five."""
    names = [n.strip() for item in (only or []) for n in item.split(",") if n.strip()]
    return [spec(n) for n in names] if names else list(SERVICES)


def runnable(service: ServiceSpec) -> bool:
    """True when the package exists and has a ``__main__`` (so ``python -m`` works)."""
    try:
        return importlib.util.find_spec(f"{service.package}.__main__") is not None
    except ImportError:
        return False


def service_env(
    *,
    database_url: str,
    kafka_bootstrap: str,
    stripe_api_base: str,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every service gets (``base`` defaults to ``os.environ``)."""
    env = dict(os.environ if base is None else base)
    platform_secret, connect_secret = webhook_secrets(env)
    env.update(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        STRIPE_API_BASE=stripe_api_base,
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("BILLING_ENV", "development")  # the public development secrets may stand in
    for variable, value in BROKER_ENV.items():
        env.setdefault(variable, value)
    env.setdefault("STRIPE_API_KEY", DEV_STRIPE_API_KEY)
    env["GATEWAY_JWT_SECRET"] = env.get("GATEWAY_JWT_SECRET") or DEV_JWT_SECRET
    env["STRIPE_WEBHOOK_SECRETS"] = env.get("STRIPE_WEBHOOK_SECRETS") or platform_secret
    env["STRIPE_CONNECT_WEBHOOK_SECRETS"] = (
        env.get("STRIPE_CONNECT_WEBHOOK_SECRETS") or connect_secret
    )
    for service in SERVICES:
        env[service.port_env] = str(service.port(env))
    return env


def migrate(name: str, env: Mapping[str, str], state_dir: Path, timeout: float = 120.0) -> None:
    """Run ``python -m <package> migrate`` to completion; raises on failure."""
    service = spec(name)
    migration = _migration(service, env, state_dir)
    run_to_completion(migration.name, migration.argv, migration.log_path, env=env, timeout=timeout)


def _migration(service: ServiceSpec, env: Mapping[str, str], state_dir: Path) -> ManagedProcess:
    return ManagedProcess(
        f"{service.name} migrate",
        [sys.executable, "-m", service.package, "migrate"],
        log_path(state_dir, f"{service.name}.migrate"),
        env=env,
    )


def _server(service: ServiceSpec, env: Mapping[str, str], state_dir: Path) -> ManagedProcess:
    return ManagedProcess(
        service.name,
        [sys.executable, "-m", service.package, "serve"],
        log_path(state_dir, service.name),
        pid_file=pid_path(state_dir, service.name),
        env=env,
    )


def health_url(name: str, env: Mapping[str, str] | None = None) -> str:
    """Its readiness: database and broker reachable, and its consumers reading."""
    return f"http://127.0.0.1:{spec(name).port(env)}/readyz"


def start_service(
    name: str,
    env: Mapping[str, str],
    state_dir: Path,
    *,
    run_migrations: bool = True,
    wait: bool = True,
    timeout: float = 60.0,
) -> ManagedProcess:
    """Migrate (optionally), start ``serve`` and (optionally) wait for ``/readyz``.

    The port comes from the service's port variable in ``env``. Stop it with ``.stop()``.
    """
    service = spec(name)
    if run_migrations:
        migrate(name, env, state_dir)
    proc = _server(service, env, state_dir).start()
    if wait:
        try:
            wait_healthy(health_url(name, env), timeout, proc=proc)
        except DevstackError:
            proc.stop()
            raise
    return proc


def migrations_fingerprint(service: ServiceSpec) -> str | None:
    """Hash of the service's ``migrations/`` files (project dir or package dir), or None."""
    try:
        found = importlib.util.find_spec(service.package)
    except ImportError:
        return None
    if found is None or not found.submodule_search_locations:
        return None
    package_dir = Path(next(iter(found.submodule_search_locations)))
    roots = [package_dir / "migrations"]
    for parent in package_dir.parents:
        if (parent / "pyproject.toml").is_file():
            roots += [parent / "migrations", parent / "alembic.ini"]
            break
    digest = hashlib.sha256()
    for root in roots:
        files = sorted(root.rglob("*")) if root.is_dir() else [root] if root.is_file() else []
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(root.parent)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


class MigrationStamps:
    """Remembers which migrations already ran against one embedded database.

    Lets a warm ``make run`` skip ``migrate`` for a service whose ``migrations/`` did not
    change. The embedded Postgres deletes the file when it initialises a new data dir.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def is_current(self, service: ServiceSpec) -> bool:
        stamp = migrations_fingerprint(service)
        return stamp is not None and self._load().get(service.name) == stamp

    def record(self, service: ServiceSpec) -> None:
        stamp = migrations_fingerprint(service)
        if stamp is None:
            return
        data = self._load()
        data[service.name] = stamp
        self.path.write_text(json.dumps(data, indent=1, sort_keys=True))


def start_services(
    names: Iterable[str],
    env: Mapping[str, str],
    state_dir: Path,
    *,
    timeout: float = 90.0,
    registry: dict[str, ManagedProcess] | None = None,
    stamps: MigrationStamps | None = None,
) -> dict[str, ManagedProcess]:
    """For each service in parallel: migrate, then serve as soon as its migration is done;
    return once every ``/readyz`` answers 200.

    Everything is polled from the calling thread, so a signal (``KeyboardInterrupt``) stops
    the wait at once. Serving processes go into ``registry`` as soon as they are spawned, so
    the caller can stop them on any failure (this function stops only migrations). With
    ``stamps``, services whose migrations already ran unchanged skip ``migrate``.
    """
    specs = [spec(n) for n in names]
    registry = {} if registry is None else registry
    deadline = time.monotonic() + timeout
    migrating: dict[str, ManagedProcess] = {}
    to_serve: list[ServiceSpec] = []
    for s in specs:
        if stamps is not None and stamps.is_current(s):
            to_serve.append(s)
            continue
        migrating[s.name] = _migration(s, env, state_dir).start()
    pending: dict[str, str] = {}
    try:
        with httpx.Client(timeout=1.0) as client:
            while migrating or to_serve or pending:
                for name, migration in list(migrating.items()):
                    if migration.running:
                        continue
                    del migrating[name]
                    migration.stop()
                    if migration.returncode != 0:
                        raise DevstackError(
                            f"{migration.name} failed ({migration.returncode}); "
                            f"see {migration.log_path}:\n{migration.tail(15)}"
                        )
                    if stamps is not None:
                        stamps.record(spec(name))
                    to_serve.append(spec(name))
                for s in to_serve:
                    # Registered before it starts: a stop signal landing during the start
                    # still finds it to stop.
                    server = registry[s.name] = _server(s, env, state_dir)
                    server.start()
                    pending[s.name] = health_url(s.name, env)
                to_serve.clear()
                for name, url in list(pending.items()):
                    proc = registry[name]
                    if not proc.running:
                        raise DevstackError(
                            f"{name} exited with {proc.returncode}; see {proc.log_path}:\n"
                            f"{proc.tail(15)}"
                        )
                    try:
                        if client.get(url).status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    late = [*migrating, *pending]
                    raise DevstackError(f"not healthy after {timeout:.0f}s: {', '.join(late)}")
                time.sleep(0.1)
    finally:
        for migration in migrating.values():
            migration.stop()
    return {s.name: registry[s.name] for s in specs}
