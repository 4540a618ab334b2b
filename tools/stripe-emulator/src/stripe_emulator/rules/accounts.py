"""Connect accounts: the platform's own objects, onboarding, `account.updated`."""

from __future__ import annotations

from stripe_emulator.errors import StripeError, resource_missing
from stripe_emulator.shapes.connect import (
    PAYOUT_BANK_ACCOUNT,
    PLATFORM_APPLICATION,
    application_shape,
    bank_account_shape,
    platform_account_shape,
    requirements,
)
from stripe_emulator.shapes.customers import (
    DEFAULT_PORTAL_CONFIGURATION,
    portal_configuration_shape,
)
from stripe_emulator.store import Obj, Store, changed, snapshot

ONBOARDING_DEFAULTS = {
    "product_description": "Agency services",
    "support_phone": "+15555550100",
    "url": "https://example.com",
}


def open_platform(store: Store) -> None:
    """Add the platform account and the objects its ids point to (application, payout bank
    account, portal configuration), so that every id the emulator hands out can be expanded."""
    platform_id, now = store.platform_id, store.now()
    store.add(platform_account_shape(platform_id, now), platform_id)
    store.add(application_shape(PLATFORM_APPLICATION, "Billing platform"), platform_id)
    store.add(bank_account_shape(PAYOUT_BANK_ACCOUNT, platform_id, "usd"), platform_id)
    store.add(portal_configuration_shape(DEFAULT_PORTAL_CONFIGURATION, now), platform_id)


def emit_account_updated(store: Store, account: Obj, before: Obj) -> None:
    previous = changed(before, account)
    if previous:
        store.emit("account.updated", account, account["id"], previous)


def complete_onboarding(store: Store, account_id: str) -> Obj:
    account = store.connected_account(account_id)
    if account is None or account_id == store.platform_id:
        raise resource_missing("account", account_id)
    before = snapshot(account)
    account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
    account["capabilities"] = {"card_payments": "active", "transfers": "active"}
    account["requirements"] = requirements([], None)
    now = store.now()
    account["tos_acceptance"] = {"date": now, "ip": "127.0.0.1", "user_agent": "emulator"}
    profile = account["business_profile"]
    for field, default in ONBOARDING_DEFAULTS.items():
        profile[field] = profile[field] or default
    emit_account_updated(store, account, before)
    return account


def deauthorize(store: Store, account_id: str) -> Obj:
    """The account revokes the platform's access (a Standard account disconnecting):
    `account.application.deauthorized` reaches the platform's Connect endpoints, then the
    account can no longer be reached (`Stripe-Account` → 403 `account_invalid`, retrieve →
    404) and its events no longer reach the platform."""
    account = store.connected_account(account_id)
    if account is None or account_id == store.platform_id:
        raise resource_missing("account", account_id)
    application = store.objects[PLATFORM_APPLICATION]
    event = store.emit("account.application.deauthorized", application, account_id)
    store.hidden(account_id)["deauthorized"] = True
    return event


def require_balance_payer(store: Store, account_id: str) -> Obj:
    """A connected account that may pay from its Stripe balance: it has both the `merchant`
    and `customer` configurations (Accounts v2) and its card payments are active."""
    account = store.connected_account(account_id)
    if account is None or account_id == store.platform_id:
        raise resource_missing("account", account_id, "customer_account")
    configuration = store.meta.get(account_id, {}).get("v2_configuration", {})
    missing = [name for name in ("customer", "merchant") if name not in configuration]
    if missing:
        raise StripeError(
            f"The account {account_id} cannot pay with stripe_balance: it needs the "
            f"{' and '.join(missing)} configuration(s) (POST /v2/core/accounts/{account_id}).",
            param="customer_account",
        )
    if not account["charges_enabled"]:
        raise StripeError(
            f"The account {account_id} cannot pay with stripe_balance until its card_payments "
            "capability is active.",
            param="customer_account",
        )
    return account
