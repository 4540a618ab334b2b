"""Connect objects: accounts with their requirements, the platform's application, and the
bank account payouts go to."""

from __future__ import annotations

from typing import Any

from stripe_emulator.shapes.common import empty_list
from stripe_emulator.store import Obj

PLATFORM_APPLICATION = "ca_emulator"
"""The Connect application behind every application fee."""
PAYOUT_BANK_ACCOUNT = "ba_emulator_bank"
"""The bank account every payout goes to."""

ONBOARDING_FIELDS = [
    "business_profile.product_description",
    "business_profile.support_phone",
    "business_profile.url",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


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


def platform_account_shape(account_id: str, created: int) -> Obj:
    """The platform itself: a fully onboarded standard account with manual payouts."""
    platform = account_shape(account_id, created, "standard", "US", "usd")
    platform.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
    platform["requirements"]["currently_due"] = []
    platform["requirements"]["eventually_due"] = []
    platform["requirements"]["disabled_reason"] = None
    platform["settings"]["payouts"]["schedule"] = {"delay_days": 2, "interval": "manual"}
    return platform


def application_shape(application_id: str, name: str) -> Obj:
    return {"id": application_id, "object": "application", "name": name}


def bank_account_shape(ba_id: str, account: str, currency: str) -> Obj:
    return {
        "id": ba_id,
        "object": "bank_account",
        "account": account,
        "account_holder_name": None,
        "account_holder_type": None,
        "account_type": None,
        "available_payout_methods": ["standard"],
        "bank_name": "STRIPE TEST BANK",
        "country": "US",
        "currency": currency,
        "default_for_currency": True,
        "fingerprint": "emulatorbank0001",
        "last4": "6789",
        "metadata": {},
        "routing_number": "110000000",
        "status": "new",
    }
