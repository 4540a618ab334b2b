"""Object builders for subscription schedules and their phases."""

from __future__ import annotations

from typing import Any

from stripe_emulator.store import Obj


def phase_item_shape(price_id: str, quantity: int, metadata: dict[str, str]) -> Obj:
    return {
        "billing_thresholds": None,
        "discounts": [],
        "metadata": metadata,
        "plan": price_id,
        "price": price_id,
        "quantity": quantity,
        "tax_rates": [],
    }


def phase_shape(
    start: int, end: int, items: list[Obj], currency: str, proration_behavior: str
) -> Obj:
    return {
        "add_invoice_items": [],
        "application_fee_percent": None,
        "automatic_tax": None,
        "billing_cycle_anchor": None,
        "billing_thresholds": None,
        "collection_method": None,
        "currency": currency,
        "default_payment_method": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "end_date": end,
        "invoice_settings": None,
        "items": items,
        "metadata": {},
        "on_behalf_of": None,
        "proration_behavior": proration_behavior,
        "start_date": start,
        "transfer_data": None,
        "trial_end": None,
    }


def default_settings(sub: Obj) -> dict[str, Any]:
    return {
        "application_fee_percent": sub["application_fee_percent"],
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": "automatic",
        "billing_thresholds": None,
        "collection_method": sub["collection_method"],
        "default_payment_method": sub["default_payment_method"],
        "description": sub["description"],
        "invoice_settings": {
            "account_tax_ids": None,
            "days_until_due": sub["days_until_due"],
            "issuer": {"type": "self"},
        },
        "on_behalf_of": None,
        "transfer_data": None,
    }


def schedule_shape(schedule_id: str, created: int, sub: Obj, phases: list[Obj]) -> Obj:
    return {
        "id": schedule_id,
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "canceled_at": None,
        "completed_at": None,
        "created": created,
        "current_phase": {"end_date": phases[0]["end_date"], "start_date": phases[0]["start_date"]},
        "customer": sub["customer"],
        "customer_account": sub.get("customer_account"),
        "default_settings": default_settings(sub),
        "end_behavior": "release",
        "livemode": False,
        "metadata": {},
        "phases": phases,
        "released_at": None,
        "released_subscription": None,
        "status": "active",
        "subscription": sub["id"],
        "test_clock": None,
    }
