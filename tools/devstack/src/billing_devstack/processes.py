"""Child processes in their own process groups, with log files, pid files and clean stops.

Every process the stack starts is a session leader (``start_new_session``), so one signal
to its group reaches its grandchildren too, and a Ctrl-C in the terminal reaches only the
runner, which then stops the children in order. A pid file under ``<state>/run/`` lets the
next start kill what a runner that died without cleaning up (``kill -9``) left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import psutil

from billing_devstack.paths import log_path, pid_path

T = TypeVar("T")

STOP_TIMEOUT = 15.0


class DevstackError(RuntimeError):
    """A piece of the stack failed to start or answer in time."""


LOWEST_FREE_PORT = 20000
_handed_out: set[int] = set()


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, for a server about to be started.

    It is taken below the kernel's ephemeral range: a port the OS hands out for binding
    (``bind(0)``) is also one it hands out as the local port of the next outgoing
    connection, and a busy stack makes hundreds of those between the pick and the server's
    bind (a Stripe emulator once failed with "address already in use" that way). Ports
    already handed out by this process are not handed out again.
    """
    low, _ = ephemeral_ports()
    candidates = list(range(LOWEST_FREE_PORT, low))
    random.shuffle(candidates)
    for port in candidates[:500]:
        if port not in _handed_out and port_is_free(port, host):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def choose_port(preferred: int | None, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free, else any free port (``None`` or ``0``: any free port)."""
    if preferred and port_is_free(preferred, host):
        return preferred
    return free_port(host)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="devstack-sync")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def wait_healthy(url: str, timeout: float = 60.0, *, proc: ManagedProcess | None = None) -> float:
    """Poll ``GET url`` until it answers 200; returns the seconds it took.

    Raises :class:`DevstackError` on timeout, or at once when ``proc`` has exited.
    """
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc is not None and not proc.running:
                raise DevstackError(
                    f"{proc.name} exited with code {proc.returncode} before {url} answered; "
                    f"see {proc.log_path}"
                )
            try:
                response = client.get(url)
                if response.status_code == 200:
                    return time.monotonic() - started
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            if time.monotonic() > deadline:
                raise DevstackError(f"{url} not healthy after {timeout:.0f}s (last: {last})")
            time.sleep(0.1)


def kill_tree(pid: int, *, sig: int = signal.SIGKILL) -> None:
    """Signal a process, its process group and all its descendants."""
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)


def stop_children(timeout: float = STOP_TIMEOUT) -> list[psutil.Process]:
    """Stop every process this one started that is still running: SIGTERM, then SIGKILL after
    ``timeout``. Returns those it found. The last word of a runner's teardown, for a child a
    stop signal orphaned between its spawn and its registration."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return children


def kill_stale(pid_file: Path) -> bool:
    """Kill what an earlier run recorded in ``pid_file`` if it still runs. True if it did."""
    try:
        pid_text, created_text = pid_file.read_text().split()
        pid, created = int(pid_text), float(created_text)
    except (OSError, ValueError):
        return False
    finally:
        pid_file.unlink(missing_ok=True)
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - created) > 1.0:
            return False  # the pid was reused by someone else
    except psutil.Error:
        return False
    kill_tree(pid, sig=signal.SIGTERM)
    with contextlib.suppress(psutil.Error):
        proc.wait(5)
    kill_tree(pid, sig=signal.SIGKILL)
    return True


@dataclass
class ManagedProcess:
    """One long-running child: started in its own session, logging to ``log_path``.

    ``stop_signal`` goes to the leader only when ``signal_group`` is false (Postgres wants
    SIGINT on the postmaster alone, which then stops its backends); otherwise to the group.
    Whatever is left after ``STOP_TIMEOUT`` seconds is SIGKILLed, descendants included.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    pid_file: Path | None = None
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    signal_group: bool = True
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        if self.running:
            return self
        if self.pid_file is not None:
            kill_stale(self.pid_file)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%F %T')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            kwargs: dict[str, Any] = {}
            if self.user is not None:
                kwargs.update(user=self.user, group=self.user, extra_groups=[])
            self.popen = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
                **kwargs,
            )
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            created = psutil.Process(self.popen.pid).create_time()
            self.pid_file.write_text(f"{self.popen.pid} {created}\n")
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the process and everything it started; idempotent."""
        popen = self.popen
        if popen is None:
            return
        pid = popen.pid
        try:
            descendants = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if self.signal_group:
                    os.killpg(pid, self.stop_signal)
                else:
                    os.kill(pid, self.stop_signal)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_tree(pid)
                popen.wait(5)
        # Grandchildren that outlived the leader (or left its group) die too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for proc in descendants:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def run_to_completion(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    user: str | None = None,
) -> None:
    """Run a one-shot command (e.g. migrations) logging to ``log_path``; raise on failure."""
    proc = ManagedProcess(name, argv, log_path, env=env, user=user).start()
    assert proc.popen is not None
    try:
        code = proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.stop()
        raise DevstackError(f"{name} did not finish in {timeout:.0f}s; see {log_path}") from None
    finally:
        proc.stop()
    if code != 0:
        raise DevstackError(f"{name} failed with exit code {code}; see {log_path}:\n{proc.tail()}")


class LocalServer:
    """A server of the stack on 127.0.0.1: its preferred port, or a free one kept across
    restarts; its log in ``logs/<name>.log``; its pid file in ``run/`` so a leftover from a
    killed run is stopped before the port is taken again."""

    name = "server"

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.state_dir = state_dir
        self.preferred_port = port
        self.port = 0
        self.log_path = log_path(state_dir, self.name)
        self.process: ManagedProcess | None = None

    def command(self) -> tuple[list[str], dict[str, str]]:
        """argv and environment of the server, once ``self.port`` is chosen."""
        raise NotImplementedError

    def wait_ready(self, timeout: float = 30.0) -> float:
        raise NotImplementedError

    def spawn(self) -> None:
        if self.process is not None and self.process.running:
            return
        pid_file = pid_path(self.state_dir, self.name)
        kill_stale(pid_file)  # frees our port first
        self.port = self.port or choose_port(self.preferred_port)
        argv, env = self.command()
        self.process = ManagedProcess(self.name, argv, self.log_path, pid_file=pid_file, env=env)
        self.process.start()

    def start(self, timeout: float = 30.0) -> Self:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
