"""One emulator: its state, the armed faults and the webhook delivery, built and reset together;
its state kept in a file across restarts when `state_file` is set."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from stripe_emulator.delivery import WebhookDispatcher
from stripe_emulator.faults import Faults
from stripe_emulator.rules.accounts import open_platform
from stripe_emulator.settings import Settings
from stripe_emulator.store import Store

log = logging.getLogger("stripe_emulator.state")


@dataclass
class Emulator:
    settings: Settings
    store: Store
    faults: Faults
    webhooks: WebhookDispatcher
    saved_revision: int = field(default=-1)

    @classmethod
    def create(cls, settings: Settings) -> Emulator:
        store, faults = Store(), Faults()
        emulator = cls(settings, store, faults, WebhookDispatcher(store, faults, settings))
        if not emulator.load():
            open_platform(store)
        return emulator

    def reset(self) -> None:
        """Empty state with a new platform account; the caller holds `store.lock`."""
        self.store.reset()
        open_platform(self.store)
        self.webhooks.reset()
        self.faults.clear()

    # the state file ------------------------------------------------------------------------
    @property
    def state_path(self) -> Path | None:
        return Path(self.settings.state_file) if self.settings.state_file else None

    def load(self) -> bool:
        """Take the state back from the state file; False when there is none to take."""
        path = self.state_path
        if path is None or not path.is_file():
            return False
        try:
            self.store.restore(path.read_bytes())
        except (OSError, ValueError, pickle.UnpicklingError, EOFError, KeyError) as error:
            log.warning("state file %s not usable (%s); starting empty", path, error)
            return False
        self.saved_revision = self.store.revision
        return True

    async def save(self) -> None:
        """Write the state when it changed since the last write: to a temporary file first,
        then renamed over the old one, so a crash leaves either the old or the new state."""
        path = self.state_path
        if path is None or self.store.revision == self.saved_revision:
            return
        async with self.store.lock:
            revision, data = self.store.revision, self.store.dump()
        await asyncio.to_thread(_write_atomically, path, data)
        self.saved_revision = revision

    async def keep_saving(self) -> None:
        """Save the state once it has settled (changed, then unchanged for a whole
        `save_interval_seconds`), until cancelled. Writing only in a lull keeps the pickling
        (which holds the store) off a busy emulator's back; shutdown writes in any case."""
        seen = self.store.revision
        while True:
            await asyncio.sleep(self.settings.save_interval_seconds)
            settled, seen = self.store.revision == seen, self.store.revision
            if not settled:
                continue
            try:
                await self.save()
            except OSError as error:
                log.warning("could not write the state file: %s", error)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
