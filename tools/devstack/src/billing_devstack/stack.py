"""The library API: infrastructure (Postgres, broker, emulator) plus services, for the CLI
and the test suite.

Each piece is started unless its variable points at a real server already:
``DATABASE_URL`` (Postgres), ``KAFKA_BOOTSTRAP_SERVERS`` (broker), ``STRIPE_API_BASE``
(Stripe emulator). All state lives in ``state_dir``; two stacks with different state dirs
and ports (``make run`` in ``.devstack/``, tests in ``.devstack/test/``) coexist.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from billing_devstack import services as svc
from billing_devstack.broker import TansuBroker
from billing_devstack.containers import ContainerKafka, ContainerPostgres, containers_requested
from billing_devstack.emulator import StripeEmulator, emulator_available, register_webhook_endpoints
from billing_devstack.paths import default_state_dir
from billing_devstack.postgres import EmbeddedPostgres
from billing_devstack.processes import DevstackError, ManagedProcess

_log = logging.getLogger("billing_devstack")


class _Postgres(Protocol):
    @property
    def url(self) -> str: ...
    def spawn(self) -> None: ...
    def wait_ready(self, timeout: float = ...) -> None: ...
    def stop(self) -> None: ...


class _Broker(Protocol):
    @property
    def bootstrap(self) -> str: ...
    def spawn(self) -> None: ...
    def wait_ready(self, timeout: float = ...) -> float: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Infra:
    """Where the infrastructure answers. ``stripe_api_base`` is None without an emulator."""

    database_url: str
    kafka_bootstrap: str
    stripe_api_base: str | None

    def service_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a service process (see :func:`services.service_env`)."""
        return svc.service_env(
            database_url=self.database_url,
            kafka_bootstrap=self.kafka_bootstrap,
            stripe_api_base=self.stripe_api_base or "",
            base=base,
        )


@dataclass
class Stack:
    """Starts (or reuses, via the environment) Postgres, the broker and the emulator.

    Ports: ``None`` picks free ports (tests); the CLI passes its fixed defaults, which fall
    back to a free port when busy. ``env`` is consulted for the switch variables
    (default ``os.environ``).
    """

    state_dir: Path = field(default_factory=default_state_dir)
    pg_port: int | None = None
    broker_port: int | None = None
    emulator_port: int | None = None
    emulator: bool = True
    env: Mapping[str, str] | None = None
    reuse_migrations: bool = False
    log: Callable[[str], None] = _log.info
    postgres: _Postgres | None = field(default=None, init=False)
    broker: _Broker | None = field(default=None, init=False)
    stripe: StripeEmulator | None = field(default=None, init=False)
    services: dict[str, ManagedProcess] = field(default_factory=dict, init=False)
    timings: dict[str, float] = field(default_factory=dict, init=False)
    _infra: Infra | None = field(default=None, init=False)

    @property
    def infra(self) -> Infra:
        if self._infra is None:
            raise DevstackError("the stack is not started")
        return self._infra

    # ---- infrastructure ------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Infra:
        """Start what is not given by the environment; wait until each piece answers."""
        if self._infra is not None:
            return self._infra
        env = os.environ if self.env is None else self.env
        self.state_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            database_url = env.get("DATABASE_URL")
            if database_url:
                self.log(f"Postgres: using DATABASE_URL ({_redact(database_url)})")
            else:
                self.postgres = (
                    ContainerPostgres()
                    if containers_requested(env)
                    else EmbeddedPostgres(self.state_dir, self.pg_port)
                )
                self.postgres.spawn()
            bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS")
            if bootstrap:
                self.log(f"Broker: using KAFKA_BOOTSTRAP_SERVERS ({bootstrap})")
            else:
                self.broker = (
                    ContainerKafka()
                    if containers_requested(env)
                    else TansuBroker(self.state_dir, self.broker_port)
                )
                self.broker.spawn()
            api_base = env.get("STRIPE_API_BASE") or None
            if api_base:
                self.log(f"Stripe: using STRIPE_API_BASE ({api_base})")
            elif self.emulator and emulator_available():
                self.stripe = StripeEmulator(self.state_dir, self.emulator_port)
                self.stripe.spawn()
            elif self.emulator:
                self.log("Stripe emulator: package stripe_emulator not runnable yet, skipped")

            if self.postgres is not None:
                self.postgres.wait_ready(timeout)
                database_url = self.postgres.url
                self.timings["postgres"] = time.monotonic() - started
            if self.broker is not None:
                self.broker.wait_ready(timeout)
                bootstrap = self.broker.bootstrap
                self.timings["broker"] = time.monotonic() - started
            if self.stripe is not None:
                self.stripe.wait_ready(timeout)
                api_base = self.stripe.api_base
                self.timings["stripe-emulator"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        assert database_url
        assert bootstrap
        self._infra = Infra(database_url, bootstrap, api_base)
        return self._infra

    def stop_broker(self, *, keep_log: bool = False) -> None:
        """Take the broker down (Tansu: stopped, losing its topics, or with ``keep_log``
        frozen, as a Kafka broker that comes back with its log; containers: paused)."""
        broker = self.broker
        if isinstance(broker, ContainerKafka) or (keep_log and isinstance(broker, TansuBroker)):
            broker.pause()
        elif self.broker is not None:
            self.broker.stop()
        else:
            raise DevstackError("the broker is external (KAFKA_BOOTSTRAP_SERVERS); not managed")

    def start_broker(self, timeout: float = 30.0) -> None:
        """Bring the broker back on the same address."""
        if self.broker is None:
            raise DevstackError("the broker is external (KAFKA_BOOTSTRAP_SERVERS); not managed")
        self.broker.spawn()
        self.broker.wait_ready(timeout)

    def restart_broker(self, down_for: float = 0.0, timeout: float = 30.0) -> None:
        self.stop_broker()
        if down_for:
            time.sleep(down_for)
        self.start_broker(timeout)

    def register_webhooks(self, ingest_base: str | None = None) -> None:
        """Register webhook-ingest's endpoints with the emulator (if we have one)."""
        if self.infra.stripe_api_base is None:
            return
        env = os.environ if self.env is None else self.env
        if ingest_base is None:
            ingest_base = f"http://127.0.0.1:{svc.spec('webhook-ingest').port(env)}"
        register_webhook_endpoints(self.infra.stripe_api_base, ingest_base, env)

    # ---- services ------------------------------------------------------------------------

    def service_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        base = dict(os.environ if self.env is None else self.env)
        base.update(extra or {})
        return self.infra.service_env(base)

    def start_service(
        self,
        name: str,
        extra_env: Mapping[str, str] | None = None,
        *,
        run_migrations: bool = True,
        timeout: float = 60.0,
    ) -> ManagedProcess:
        """Migrate and serve one service; waits for its ``/readyz``."""
        proc = svc.start_service(
            name,
            self.service_env(extra_env),
            self.state_dir,
            run_migrations=run_migrations,
            timeout=timeout,
        )
        self.services[svc.spec(name).name] = proc
        return proc

    def start_services(
        self, names: Iterable[str], extra_env: Mapping[str, str] | None = None
    ) -> dict[str, ManagedProcess]:
        """Migrate all, then serve all, in parallel."""
        began = time.monotonic()
        started = svc.start_services(
            names,
            self.service_env(extra_env),
            self.state_dir,
            registry=self.services,
            stamps=self._stamps(),
        )
        if started:
            self.timings["services"] = time.monotonic() - began
        return started

    def _stamps(self) -> svc.MigrationStamps | None:
        """Skip unchanged migrations only on a database this stack owns and initialised."""
        if not self.reuse_migrations or not isinstance(self.postgres, EmbeddedPostgres):
            return None
        return svc.MigrationStamps(self.postgres.migration_stamps)

    def stop_service(self, name: str) -> None:
        proc = self.services.pop(svc.spec(name).name, None)
        if proc is not None:
            proc.stop()

    # ---- teardown ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop services, then emulator, broker, Postgres. Idempotent."""
        for name in list(self.services):
            self.stop_service(name)
        for piece in (self.stripe, self.broker, self.postgres):
            if piece is not None:
                try:
                    piece.stop()
                except Exception as exc:  # keep stopping the rest
                    self.log(f"stopping {type(piece).__name__} failed: {exc!r}")
        self.stripe = None
        self.broker = None
        self.postgres = None
        self._infra = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def infrastructure(
    state_dir: Path | None = None,
    *,
    emulator: bool = True,
    pg_port: int | None = None,
    broker_port: int | None = None,
    emulator_port: int | None = None,
) -> Iterator[Infra]:
    """Postgres + broker (+ emulator) for a test session, on free ports by default."""
    stack = Stack(
        state_dir or default_state_dir() / "test",
        pg_port=pg_port,
        broker_port=broker_port,
        emulator_port=emulator_port,
        emulator=emulator,
    )
    try:
        yield stack.start()
    finally:
        stack.stop()


def _redact(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
