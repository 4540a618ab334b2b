"""The emulator keeps its state in `state_file` across restarts, as the embedded stack runs it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import stripe

from billing_devstack import free_port
from stripe_emulator.settings import Settings
from tests.helpers.stripe_emulator.emulator import API_KEY, serving

pytestmark = pytest.mark.integration


def _settings(state_file: Path, interval: float = 60.0) -> Settings:
    return Settings(port=free_port(), state_file=str(state_file), save_interval_seconds=interval)


def _agency_with_a_subscription(url: str) -> tuple[str, str, stripe.StripeClient]:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": url})
    account = client.v1.accounts.create(params={"type": "express"})
    httpx.post(f"{url}/_emulator/accounts/{account.id}/complete_onboarding").raise_for_status()
    opts: stripe.RequestOptions = {"stripe_account": account.id}
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 5000,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Retainer"},
        },
        options=opts,
    )
    customer = client.v1.customers.create(params={"email": "c@example.com"}, options=opts)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 14,
        },
        options=opts,
    )
    return account.id, sub.id, client


def test_a_restarted_emulator_finds_accounts_and_their_objects(tmp_path: Path) -> None:
    state_file = tmp_path / "state" / "emulator.pickle"
    with serving(_settings(state_file)) as url:
        account_id, sub_id, client = _agency_with_a_subscription(url)
        platform = httpx.get(f"{url}/_emulator/platform").json()["account"]
        now = httpx.post(f"{url}/_emulator/clock/advance", json={"seconds": 3 * 86400}).json()
    assert state_file.is_file()
    with serving(_settings(state_file)) as url:
        client = stripe.StripeClient(API_KEY, base_addresses={"api": url})
        opts: stripe.RequestOptions = {"stripe_account": account_id}
        assert httpx.get(f"{url}/_emulator/platform").json()["account"] == platform
        assert httpx.get(f"{url}/_emulator/clock").json()["now"] >= now["now"]
        assert client.v1.accounts.retrieve(account_id).charges_enabled is True
        sub = client.v1.subscriptions.retrieve(sub_id, options=opts)
        assert (sub.status, sub.collection_method) == ("active", "send_invoice")
        invoices = client.v1.invoices.list(params={"subscription": sub_id}, options=opts).data
        assert [i.status for i in invoices] == ["open"]
        events = client.v1.events.list(params={"type": "invoice.sent"}, options=opts).data
        assert len(events) == 1
        customer = client.v1.customers.create(options=opts)  # ids stay unique, writes go on
        assert customer.id != sub.customer


def test_the_state_is_written_while_it_changes_not_only_at_shutdown(tmp_path: Path) -> None:
    state_file = tmp_path / "emulator.pickle"
    with serving(_settings(state_file, interval=0.1)) as url:
        account_id, _, _ = _agency_with_a_subscription(url)
        deadline = time.monotonic() + 5
        while not state_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        # A second emulator reading the file now (as after a crash) finds the account.
        with serving(_settings(state_file)) as other:
            client = stripe.StripeClient(API_KEY, base_addresses={"api": other})
            assert client.v1.accounts.retrieve(account_id).id == account_id


def test_reset_is_kept_too_and_registering_a_receiver_again_replaces_it(tmp_path: Path) -> None:
    state_file = tmp_path / "emulator.pickle"
    body = {"url": "http://127.0.0.1:9/hooks", "connect": True, "secret": "whsec_a"}
    with serving(_settings(state_file)) as url:
        _agency_with_a_subscription(url)
        httpx.post(f"{url}/_emulator/reset").raise_for_status()
        httpx.post(f"{url}/_emulator/webhook_endpoints", json=body).raise_for_status()
    with serving(_settings(state_file)) as url:
        client = stripe.StripeClient(API_KEY, base_addresses={"api": url})
        assert client.v1.accounts.list().data == []
        again = httpx.post(f"{url}/_emulator/webhook_endpoints", json={**body, "secret": "whsec_b"})
        assert again.json()["secret"] == "whsec_b"
        assert len(client.v1.webhook_endpoints.list().data) == 1
