"""The repository stands alone: nothing it tracks reads or names material outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not name what it looks for.
_SHARED = "shared"
OUTSIDE = re.compile(rf"\.\./{_SHARED}|{_SHARED}/(stripe|seeds|hooks)|\b(API|DESIGN|STYLE)\.md\b")


@pytest.mark.unit
def test_no_tracked_file_names_material_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    offenders = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.suffix == ".json" or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name.decode()}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.unit
def test_vendored_stripe_fixtures_carry_their_licence() -> None:
    vendored = ROOT / "vendor" / "stripe-mock"
    assert "MIT License" in (vendored / "LICENSE").read_text()
    assert "stripe-mock" in (vendored / "README.md").read_text()
