"""What a route or a rule acts in: the store, the acting account, the request's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

from stripe_emulator.forms import Params
from stripe_emulator.store import Store


@dataclass
class Ctx:
    """The store, the acting account (platform or connected), parameters and path ids."""

    store: Store
    account: str
    params: Params = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    base_url: str = ""

    @classmethod
    def acting_as(cls, store: Store, account: str) -> Ctx:
        """A context without a request: the clock and hosted pages act for an account."""
        return cls(store=store, account=account, base_url=store.base_url)

    @property
    def connected(self) -> bool:
        return self.account != self.store.platform_id

    @property
    def now(self) -> int:
        return self.store.now()
