"""One emulator: its state, the armed faults and the webhook delivery, built and reset together."""

from __future__ import annotations

from dataclasses import dataclass

from stripe_emulator.delivery import WebhookDispatcher
from stripe_emulator.faults import Faults
from stripe_emulator.rules.accounts import open_platform
from stripe_emulator.settings import Settings
from stripe_emulator.store import Store


@dataclass
class Emulator:
    settings: Settings
    store: Store
    faults: Faults
    webhooks: WebhookDispatcher

    @classmethod
    def create(cls, settings: Settings) -> Emulator:
        store = Store()
        open_platform(store)
        faults = Faults()
        return cls(settings, store, faults, WebhookDispatcher(store, faults, settings))

    def reset(self) -> None:
        """Empty state with a new platform account; the caller holds `store.lock`."""
        self.store.reset()
        open_platform(self.store)
        self.webhooks.reset()
        self.faults.clear()
