"""The embedded stack's Stripe emulator keeps its state in the state directory: stopped (as
the stack stops it) and started again, it still knows the accounts and their objects."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from billing_devstack.emulator import (
    StripeEmulator,
    forget_webhook_endpoints,
    register_webhook_endpoints,
)

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer sk_test_emulator"}


def test_the_emulator_finds_its_state_again_after_a_restart(tmp_path: Path) -> None:
    emulator = StripeEmulator(tmp_path, port=None).start()
    try:
        account = httpx.post(
            f"{emulator.api_base}/v1/accounts", data={"type": "express"}, headers=AUTH
        ).json()
        customer = httpx.post(
            f"{emulator.api_base}/v1/customers",
            data={"email": "client@example.com"},
            headers={**AUTH, "Stripe-Account": account["id"]},
        ).json()
    finally:
        emulator.stop()
    assert emulator.state_file.is_file()
    assert emulator.state_file.is_relative_to(tmp_path)
    again = StripeEmulator(tmp_path, port=None).start()
    try:
        found = httpx.get(
            f"{again.api_base}/v1/customers/{customer['id']}",
            headers={**AUTH, "Stripe-Account": account["id"]},
        )
        assert found.status_code == 200, found.text
        assert found.json()["email"] == "client@example.com"
    finally:
        again.stop()


def test_receivers_registered_by_an_earlier_run_are_replaced(tmp_path: Path) -> None:
    emulator = StripeEmulator(tmp_path, port=None).start()
    try:
        register_webhook_endpoints(emulator.api_base, "http://127.0.0.1:9001", {})
    finally:
        emulator.stop()
    again = StripeEmulator(tmp_path, port=None).start()
    try:
        register_webhook_endpoints(again.api_base, "http://127.0.0.1:9002", {})
        listed = httpx.get(f"{again.api_base}/v1/webhook_endpoints", headers=AUTH).json()
        assert sorted(e["url"] for e in listed["data"]) == [
            "http://127.0.0.1:9002/stripe/webhooks",
            "http://127.0.0.1:9002/stripe/webhooks/connect",
        ]
    finally:
        again.stop()


def test_forgotten_receivers_are_no_longer_registered(tmp_path: Path) -> None:
    emulator = StripeEmulator(tmp_path, port=None).start()
    try:
        register_webhook_endpoints(emulator.api_base, "http://127.0.0.1:9001", {})
        forget_webhook_endpoints(emulator.api_base)
        listed = httpx.get(f"{emulator.api_base}/v1/webhook_endpoints", headers=AUTH).json()
        assert listed["data"] == []
    finally:
        emulator.stop()
