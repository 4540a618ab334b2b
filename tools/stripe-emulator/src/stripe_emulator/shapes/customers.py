"""Customers, their payment methods and setup intents, billing portal sessions."""

from __future__ import annotations

from typing import Any

from stripe_emulator.shapes.common import empty_billing_details
from stripe_emulator.store import Obj

DEFAULT_PORTAL_CONFIGURATION = "bpc_emulator_default"


def customer_shape(customer_id: str, created: int, invoice_prefix: str) -> Obj:
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def card_details(brand: str, last4: str, funding: str = "credit") -> dict[str, Any]:
    return {
        "brand": brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "display_brand": brand,
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": f"emu{last4}{brand}"[:16],
        "funding": funding,
        "generated_from": None,
        "last4": last4,
        "networks": {"available": [brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def payment_method_shape(pm_id: str, created: int, type_: str) -> Obj:
    return {
        "id": pm_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": empty_billing_details(),
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": type_,
    }


def setup_intent_shape(seti_id: str, created: int, types: list[str]) -> Obj:
    return {
        "id": seti_id,
        "object": "setup_intent",
        "application": None,
        "allowed_payment_method_types": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{seti_id}_secret_emulator",
        "created": created,
        "customer": None,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": types,
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": "off_session",
    }


def portal_session_shape(
    bps_id: str, created: int, customer: str, return_url: str | None, url: str
) -> Obj:
    return {
        "id": bps_id,
        "object": "billing_portal.session",
        "configuration": DEFAULT_PORTAL_CONFIGURATION,
        "created": created,
        "customer": customer,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": url,
    }


def setup_attempt_shape(setatt_id: str, created: int, intent: Obj, pm: Obj) -> Obj:
    """The successful attempt behind a confirmed SetupIntent (its `latest_attempt`)."""
    details: dict[str, Any] = {"type": pm["type"]}
    if pm["type"] == "card":
        details["card"] = {
            "brand": pm["card"]["brand"],
            "checks": pm["card"]["checks"],
            "country": pm["card"]["country"],
            "exp_month": pm["card"]["exp_month"],
            "exp_year": pm["card"]["exp_year"],
            "fingerprint": pm["card"]["fingerprint"],
            "funding": pm["card"]["funding"],
            "last4": pm["card"]["last4"],
            "network": pm["card"]["brand"],
            "three_d_secure": None,
            "wallet": None,
        }
    return {
        "id": setatt_id,
        "object": "setup_attempt",
        "application": None,
        "attach_to_self": False,
        "created": created,
        "customer": intent["customer"],
        "flow_directions": None,
        "livemode": False,
        "on_behalf_of": None,
        "payment_method": pm["id"],
        "payment_method_details": details,
        "setup_error": None,
        "setup_intent": intent["id"],
        "status": "succeeded",
        "usage": intent["usage"],
    }


def portal_configuration_shape(bpc_id: str, created: int) -> Obj:
    """The default billing portal configuration every session uses."""
    return {
        "id": bpc_id,
        "object": "billing_portal.configuration",
        "active": True,
        "application": None,
        "business_profile": {
            "headline": None,
            "privacy_policy_url": None,
            "terms_of_service_url": None,
        },
        "created": created,
        "default_return_url": None,
        "features": {
            "customer_update": {"allowed_updates": [], "enabled": False},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": False},
            "subscription_update": {"enabled": False},
        },
        "is_default": True,
        "livemode": False,
        "login_page": {"enabled": False, "url": None},
        "metadata": {},
        "name": None,
        "updated": created,
    }
