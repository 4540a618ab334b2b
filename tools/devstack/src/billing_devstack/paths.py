"""Where the devstack keeps things: the repository root and the state directory's layout.

A leaf module (it imports nothing of the devstack), so every piece can find its files
without reaching up to the stack. Layout of a state directory::

    <state>/bin/            the broker binary (shared: always under the default state dir)
    <state>/logs/<name>.log one log per process (migrations: <name>.migrate.log)
    <state>/run/<name>.pid  pid files that let the next run stop what a killed run left
    <state>/pg/             Postgres data
    <state>/stripe-emulator/state.pickle  the Stripe emulator's state
"""

from __future__ import annotations

import os
from pathlib import Path


def repo_root(start: Path | None = None) -> Path:
    """The uv workspace root above ``start`` (default: the cwd, then this file)."""
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        for candidate in (origin, *origin.parents):
            pyproject = candidate / "pyproject.toml"
            if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text():
                return candidate
    return Path.cwd()


def default_state_dir() -> Path:
    """``$DEVSTACK_DIR`` or ``<repo>/.devstack``."""
    return Path(os.environ.get("DEVSTACK_DIR") or repo_root() / ".devstack").resolve()


def default_bin_dir() -> Path:
    """Where downloaded binaries are cached, shared by every stack: ``<repo>/.devstack/bin``."""
    return default_state_dir() / "bin"


def log_path(state_dir: Path, name: str) -> Path:
    return state_dir / "logs" / f"{name}.log"


def pid_path(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"
