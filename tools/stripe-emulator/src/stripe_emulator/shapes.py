"""Object builders for Connect, catalog and customer objects, field for field as Stripe's."""

from __future__ import annotations

from typing import Any

from stripe_emulator.store import Obj

ONBOARDING_FIELDS = [
    "business_profile.product_description",
    "business_profile.support_phone",
    "business_profile.url",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


def null_address() -> dict[str, Any]:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def empty_list(url: str) -> dict[str, Any]:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": list(due),
        "past_due": [],
        "pending_verification": [],
    }


def account_shape(account_id: str, created: int, type_: str, country: str, currency: str) -> Obj:
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "minority_owned_business_designation": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {"card_payments": "inactive", "transfers": "inactive"},
        "charges_enabled": False,
        "controller": {
            "type": "application" if type_ != "standard" else "account",
            "is_controller": True,
        },
        "country": country,
        "created": created,
        "default_currency": currency,
        "details_submitted": False,
        "email": None,
        "external_accounts": empty_list(f"/v1/accounts/{account_id}/external_accounts"),
        "future_requirements": requirements([], None),
        "metadata": {},
        "payouts_enabled": False,
        "requirements": requirements(ONBOARDING_FIELDS, "requirements.past_due"),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {
                "statement_descriptor": None,
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": type_,
    }


def product_shape(product_id: str, created: int, name: str) -> Obj:
    return {
        "id": product_id,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price_shape(
    price_id: str,
    created: int,
    product: str,
    currency: str,
    unit_amount: int | None,
    recurring: dict[str, Any] | None,
) -> Obj:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }


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
        "billing_details": {
            "address": null_address(),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
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


def webhook_endpoint_shape(we_id: str, created: int, url: str, events: list[str]) -> Obj:
    return {
        "id": we_id,
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": created,
        "description": None,
        "enabled_events": events,
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": url,
    }


def portal_session_shape(
    bps_id: str, created: int, customer: str, return_url: str | None, url: str
) -> Obj:
    return {
        "id": bps_id,
        "object": "billing_portal.session",
        "configuration": "bpc_emulator_default",
        "created": created,
        "customer": customer,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": url,
    }
