"""``billing-stack``: run the whole billing stack on one machine (``make run``)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from billing_devstack import services as svc
from billing_devstack import tokens
from billing_devstack.broker import ensure_tansu
from billing_devstack.paths import default_state_dir
from billing_devstack.processes import DevstackError, stop_children
from billing_devstack.stack import Stack
from billing_kit.auth import Role
from billing_kit.settings import DEV_JWT_SECRET

app = typer.Typer(
    help="The billing stack on one machine: Postgres, broker, Stripe emulator, services.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(highlight=False, soft_wrap=True)

DEFAULT_PG_PORT = 5433
DEFAULT_BROKER_PORT = 19092


class _StopRequestedError(Exception):
    """Raised once in the main thread by the first stop signal."""


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP stop the stack, whoever sends them and however often.

    The first one interrupts the main thread wherever it waits (starting up or idling);
    any later one, or any one once the teardown has begun, is only recorded, so the
    teardown runs to its end. Later ones are the rule, not the exception: a signal to the
    whole process group reaches ``make``, ``uv`` and us, and both of them pass it on again.
    """

    names = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.received: list[str] = []
        self.stopping = False

    def install(self) -> None:
        for name in self.names:
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum).name)
        if not self.stopping:
            self.stopping = True
            raise _StopRequestedError(self.received[0])


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@app.callback()
def main() -> None:
    """The billing stack on one machine."""


@app.command()
def run(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Start only these services (repeat or comma-separate); default all."
        ),
    ] = None,
    no_services: Annotated[
        bool, typer.Option("--no-services", help="Only infrastructure, no services.")
    ] = False,
    no_emulator: Annotated[
        bool, typer.Option("--no-emulator", help="Do not start the Stripe emulator.")
    ] = False,
    always_migrate: Annotated[
        bool,
        typer.Option(
            "--always-migrate",
            help="Run every migration even when its migrations/ did not change since last run.",
        ),
    ] = False,
    pg_port: Annotated[
        int, typer.Option(help="Postgres port (env DEVSTACK_PG_PORT); a busy one falls back.")
    ] = _env_int("DEVSTACK_PG_PORT", DEFAULT_PG_PORT),
    broker_port: Annotated[
        int, typer.Option(help="Broker port (env DEVSTACK_BROKER_PORT); a busy one falls back.")
    ] = _env_int("DEVSTACK_BROKER_PORT", DEFAULT_BROKER_PORT),
    state_dir: Annotated[
        Path | None, typer.Option(help="State directory (env DEVSTACK_DIR; default .devstack).")
    ] = None,
) -> None:
    """Start everything, print the URLs, then 'billing stack ready'; Ctrl-C/SIGTERM stops all."""
    started = time.monotonic()
    stack = Stack(
        state_dir or default_state_dir(),
        pg_port=pg_port,
        broker_port=broker_port,
        emulator_port=_env_int("STRIPE_EMULATOR_PORT", 12111),
        emulator=not no_emulator,
        reuse_migrations=not always_migrate,
        log=lambda message: console.print(f"[yellow]{message}[/]"),
    )
    code = 0
    signals = _StopSignals()
    try:
        signals.install()
        _run(stack, [] if no_services else svc.select(only), started)
        while True:
            time.sleep(1)
            _check_alive(stack)
    except _StopRequestedError as stop:
        console.print(f"[bold]{stop}: stopping[/]")
    except KeyboardInterrupt:
        console.print("[bold]interrupted: stopping[/]")
    except DevstackError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        code = 1
    finally:
        signals.stopping = True
        stack.stop()
        for orphan in stop_children():
            console.print(f"[yellow]  stopped a leftover process {orphan.pid}[/]")
        console.print("[bold]billing stack stopped[/]")
    raise typer.Exit(code)


def _run(stack: Stack, services: list[svc.ServiceSpec], started: float) -> None:
    console.print(
        f"[bold]billing stack[/] state in {stack.state_dir}, logs in {stack.state_dir}/logs"
    )
    infra = stack.start()
    if stack.postgres is not None:
        console.print(f"  postgres         {infra.database_url}")
    if stack.broker is not None:
        console.print(f"  kafka broker     {infra.kafka_bootstrap}")
    if stack.stripe is not None:
        console.print(f"  stripe emulator  {infra.stripe_api_base}")
        stack.register_webhooks()
        console.print("  webhook endpoints registered with the emulator")
    env = stack.service_env()
    if not os.environ.get("GATEWAY_JWT_SECRET"):
        console.print(
            f"  [yellow]GATEWAY_JWT_SECRET not set: using the development default "
            f"{DEV_JWT_SECRET!r}[/]"
        )
    ok = {s.name: svc.runnable(s) for s in services}
    runnable = [s for s in services if ok[s.name]]
    for skipped in (s for s in services if not ok[s.name]):
        console.print(
            f"  [yellow]{skipped.name}: package {skipped.package} has no __main__ yet, skipped[/]"
        )
    stack.start_services([s.name for s in runnable])
    for service in runnable:
        console.print(f"  {service.name:<16} http://127.0.0.1:{service.port(env)}")
    elapsed = time.monotonic() - started
    timings = ", ".join(f"{name} {secs:.1f}s" for name, secs in stack.timings.items())
    console.print(f"[dim]  ready after: {timings}[/]")
    console.print(f"[bold green]billing stack ready[/] in {elapsed:.1f}s (Ctrl-C to stop)")
    sys.stdout.flush()


def _check_alive(stack: Stack) -> None:
    pieces = [("postgres", stack.postgres), ("broker", stack.broker), ("stripe", stack.stripe)]
    for name, piece in pieces:
        process = getattr(piece, "process", None)
        if process is not None and not process.running:
            raise DevstackError(f"{name} exited unexpectedly; see {process.log_path}")
    for name, proc in stack.services.items():
        if not proc.running:
            raise DevstackError(f"{name} exited with {proc.returncode}; see {proc.log_path}")


@app.command("fetch-broker")
def fetch_broker(state_dir: Path | None = None) -> None:
    """Download the Tansu broker binary into <state>/bin (done by `run` when missing)."""
    path = ensure_tansu((state_dir / "bin") if state_dir else None)
    console.print(str(path))


@app.command()
def clean(
    state_dir: Path | None = None,
    keep_binaries: Annotated[bool, typer.Option(help="Keep the downloaded broker.")] = True,
) -> None:
    """Delete the state directory (Postgres data, the Stripe emulator's state, logs); keeps the
    broker binary by default."""
    root = state_dir or default_state_dir()
    if not root.exists():
        return
    for child in root.iterdir():
        if keep_binaries and child.name == "bin":
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    console.print(f"cleaned {root}")


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="Who the token vouches for.")] = Role.OWNER,
    agency: Annotated[
        str | None, typer.Option(help="The agency id (every role but platform_operator).")
    ] = None,
    workspaces: Annotated[
        list[str] | None,
        typer.Option("--workspaces", help="A client's workspaces (repeat or comma-separate)."),
    ] = None,
    sub: Annotated[str | None, typer.Option(help="The user id; default dev-<role>.")] = None,
    email: Annotated[str | None, typer.Option(help="The user's email.")] = None,
    expires_in: Annotated[
        int, typer.Option(help="Seconds until it expires.", min=1)
    ] = tokens.DEFAULT_EXPIRES_IN,
    secret: Annotated[
        str,
        typer.Option(
            envvar="GATEWAY_JWT_SECRET",
            show_default=False,
            help="Signing secret; default: the stack's development secret.",
        ),
    ] = DEV_JWT_SECRET,
    bare: Annotated[
        bool, typer.Option("--bare", help="Print the token alone, not the header.")
    ] = False,
) -> None:
    """Print a gateway token as an 'Authorization: Bearer …' header, for curl -H."""
    workspace_ids = [w.strip() for item in workspaces or [] for w in item.split(",") if w.strip()]
    try:
        who = tokens.principal(role, agency, workspace_ids=workspace_ids, sub=sub, email=email)
    except tokens.TokenRequestError as exc:
        raise typer.BadParameter(str(exc)) from exc
    minted = tokens.mint(who, secret, expires_in=expires_in)
    print(minted if bare else f"Authorization: Bearer {minted}")
