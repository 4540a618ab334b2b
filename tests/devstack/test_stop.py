"""``make run`` stops cleanly whoever signals it: a terminal's Ctrl-C (SIGINT to the
foreground group), ``timeout`` or ``kill -- -PGID`` (SIGTERM to the whole group), and a
second signal while it is already stopping."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psutil
import pytest

from billing_devstack import SERVICES, default_state_dir, free_port, repo_root

READY = "billing stack ready"
STOPPED = "billing stack stopped"
# Variables that would make the stack use servers it does not start.
_EXTERNAL = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STRIPE_API_BASE", "BILLING_TEST_INFRA")


STATE = default_state_dir() / "test-stop"


def _make_run(*args: str) -> list[str]:
    return ["make", "--no-print-directory", "run", f"RUN_ARGS=--state-dir {STATE} {' '.join(args)}"]


def _billing_stack_run(*args: str) -> list[str]:
    uv = repo_root() / ".devstack/tools/bin/uv"
    command = str(uv) if uv.exists() else "uv"
    return [command, "run", "billing-stack", "run", "--state-dir", str(STATE), *args]


@dataclass
class Runner:
    """A stack runner started in its own process group, its output collected as it comes."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.popen.poll() is not None and self.reader is not None:
                self.reader.join(5)  # the rest of its output
                assert text in self.output, f"exited with {self.popen.poll()}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{self.output}"
            time.sleep(0.05)

    def processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.popen.pid)
        return [root, *root.children(recursive=True)]

    def signal_group(self, sig: signal.Signals) -> None:
        os.killpg(self.popen.pid, sig)


def _stack_env() -> dict[str, str]:
    """A stack of its own: a separate state dir and free ports for every piece."""
    env = {k: v for k, v in os.environ.items() if k not in _EXTERNAL}
    env.update(
        DEVSTACK_PG_PORT=str(free_port()),
        DEVSTACK_BROKER_PORT=str(free_port()),
        STRIPE_EMULATOR_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
    )
    env.update({service.port_env: str(free_port()) for service in SERVICES})
    return env


StartRunner = Callable[[list[str]], Runner]


@pytest.fixture
def start_runner() -> Iterator[StartRunner]:
    started: list[Runner] = []

    def start(argv: list[str]) -> Runner:
        popen = subprocess.Popen(
            argv,
            cwd=repo_root(),
            env=_stack_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        runner = Runner(popen)
        started.append(runner)
        return runner

    yield start
    for runner in started:  # a failed test still leaves nothing running
        if runner.popen.poll() is None:
            procs = runner.processes()
            for proc in procs:
                proc.kill()
            psutil.wait_procs(procs, timeout=10)


def _alive(procs: list[psutil.Process]) -> list[str]:
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())}")
        except psutil.NoSuchProcess:
            continue
    return left


def _group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


# argv, what the output shows when the signals go, the signals
CASES = {
    "make run, SIGTERM to the group": (_make_run(), READY, [signal.SIGTERM]),
    "SIGTERM twice to the group": (
        _billing_stack_run("--only", "catalog"),
        READY,
        [signal.SIGTERM, signal.SIGTERM],
    ),
    "Ctrl-C, then SIGTERM": (_make_run("--no-services"), READY, [signal.SIGINT, signal.SIGTERM]),
    "SIGTERM while services start": (
        _make_run("--only", "catalog,revenue"),
        "webhook endpoints registered",
        [signal.SIGTERM],
    ),
}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("argv", "when", "signals"), CASES.values(), ids=CASES.keys())
def test_a_signal_to_the_group_stops_everything_without_a_traceback(
    start_runner: StartRunner, argv: list[str], when: str, signals: list[signal.Signals]
) -> None:
    runner = start_runner(argv)
    runner.wait_for(when, timeout=180)
    procs = runner.processes()
    assert len(procs) > 3, runner.output  # the runner and the pieces it started

    for sig in signals:
        runner.signal_group(sig)
        runner.wait_for("stopping")  # the next signal lands while the stop is under way
    runner.popen.wait(timeout=90)

    output = runner.output
    assert "Traceback" not in output, output
    assert STOPPED in output, output
    assert _alive(procs) == []
    assert _group_members(runner.popen.pid) == []
