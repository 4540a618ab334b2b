"""The devstack finds the workspace and its state directory from anywhere inside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_devstack.paths import default_bin_dir, default_state_dir, log_path, pid_path, repo_root

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_workspace_root_is_found_from_a_nested_directory() -> None:
    assert repo_root(ROOT / "tools" / "devstack" / "src") == ROOT
    assert "[tool.uv.workspace]" in (repo_root() / "pyproject.toml").read_text()


def test_the_state_dir_defaults_under_the_repo_and_follows_devstack_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT / "libs")
    monkeypatch.delenv("DEVSTACK_DIR", raising=False)
    assert default_state_dir() == ROOT / ".devstack"
    monkeypatch.setenv("DEVSTACK_DIR", str(tmp_path / "elsewhere"))
    assert default_state_dir() == tmp_path / "elsewhere"
    assert default_bin_dir() == tmp_path / "elsewhere" / "bin"


def test_every_process_has_its_log_and_pid_file_in_the_state_dir(tmp_path: Path) -> None:
    assert log_path(tmp_path, "catalog.migrate") == tmp_path / "logs" / "catalog.migrate.log"
    assert pid_path(tmp_path, "catalog") == tmp_path / "run" / "catalog.pid"
