"""Connect: accounts, payout schedules, account links and onboarding."""

from __future__ import annotations

from typing import Any

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, invalid_param, resource_missing
from stripe_emulator.forms import get_dict, get_str, merge_metadata, req_str
from stripe_emulator.routing import list_objects, route
from stripe_emulator.rules.accounts import emit_account_updated
from stripe_emulator.shapes.connect import account_shape
from stripe_emulator.store import Obj, new_id, snapshot

LINK_LIFETIME_SECONDS = 300
INTERVALS = ("manual", "daily", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _platform_only(ctx: Ctx) -> None:
    if ctx.connected:
        raise StripeError(
            "This application does not have the required permissions for this endpoint on "
            f"account '{ctx.account}'.",
            status=403,
            type_="invalid_request_error",
        )


def _account(ctx: Ctx, account_id: str, param: str = "id") -> Obj:
    account = ctx.store.connected_account(account_id)
    if account is None or account_id == ctx.store.platform_id:
        raise resource_missing("account", account_id, param)
    return account


def _apply_profile(account: Obj, params: dict[str, Any]) -> None:
    if "email" in params:
        account["email"] = get_str(params, "email")
    if "business_type" in params:
        account["business_type"] = get_str(params, "business_type")
    profile = get_dict(params, "business_profile")
    for key, value in profile.items():
        if key in account["business_profile"] and isinstance(value, str):
            account["business_profile"][key] = value or None
    account["metadata"] = merge_metadata(account["metadata"], params)


def _apply_payout_schedule(account: Obj, params: dict[str, Any]) -> None:
    settings = get_dict(params, "settings")
    payouts = settings.get("payouts")
    if not isinstance(payouts, dict):
        return
    current = account["settings"]["payouts"]
    if "debit_negative_balances" in payouts:
        current["debit_negative_balances"] = payouts["debit_negative_balances"] == "true"
    if payouts.get("statement_descriptor"):
        current["statement_descriptor"] = payouts["statement_descriptor"]
    schedule = payouts.get("schedule")
    if not isinstance(schedule, dict):
        return
    interval = schedule.get("interval", current["schedule"]["interval"])
    if interval not in INTERVALS:
        raise invalid_param(
            "settings[payouts][schedule][interval]",
            f"Invalid settings[payouts][schedule][interval]: must be one of {', '.join(INTERVALS)}",
        )
    new: dict[str, Any] = {"delay_days": current["schedule"].get("delay_days", 2)}
    if "delay_days" in schedule:
        days = schedule["delay_days"]
        new["delay_days"] = 2 if days == "minimum" else int(days)
    new["interval"] = interval
    if interval == "weekly":
        anchor = schedule.get("weekly_anchor", current["schedule"].get("weekly_anchor", "monday"))
        if anchor not in WEEKDAYS:
            raise invalid_param(
                "settings[payouts][schedule][weekly_anchor]", f"Invalid weekly_anchor: {anchor}"
            )
        new["weekly_anchor"] = anchor
    if interval == "monthly":
        anchor = int(schedule.get("monthly_anchor", current["schedule"].get("monthly_anchor", 1)))
        if not 1 <= anchor <= 31:
            raise invalid_param(
                "settings[payouts][schedule][monthly_anchor]", f"Invalid monthly_anchor: {anchor}"
            )
        new["monthly_anchor"] = anchor
    current["schedule"] = new


@route("POST", "/v1/accounts")
def create_account(ctx: Ctx) -> Obj:
    _platform_only(ctx)
    params = ctx.params
    controller = get_dict(params, "controller")
    type_ = get_str(params, "type")
    if type_ is None and not controller:
        type_ = "standard"
    if type_ is not None and type_ not in ("express", "standard", "custom"):
        raise invalid_param("type", "Invalid type: must be one of express, standard, custom")
    if type_ is None:
        dashboard = get_dict(controller, "stripe_dashboard").get("type", "full")
        type_ = {"full": "standard", "express": "express", "none": "custom"}.get(dashboard, "none")
    country = (get_str(params, "country") or "US").upper()
    currency = (get_str(params, "default_currency") or "usd").lower()
    account = account_shape(new_id("acct", 16), ctx.now, type_, country, currency)
    _apply_profile(account, params)
    _apply_payout_schedule(account, params)
    if controller:
        account["controller"] = {
            "is_controller": True,
            "type": "application",
            **{k: v for k, v in controller.items() if isinstance(v, str)},
        }
    ctx.store.add(account, ctx.store.platform_id)
    return account


@route("GET", "/v1/accounts")
def list_accounts(ctx: Ctx) -> Obj:
    _platform_only(ctx)
    return list_objects(
        ctx,
        "account",
        "/v1/accounts",
        lambda obj: obj["id"] != ctx.store.platform_id and ctx.store.accessible(obj["id"]),
    )


@route("GET", "/v1/account")
def retrieve_own_account(ctx: Ctx) -> Obj:
    return ctx.store.objects[ctx.account]


@route("GET", "/v1/accounts/{id}")
def retrieve_account(ctx: Ctx) -> Obj:
    account_id = ctx.path["id"]
    if ctx.connected and account_id == ctx.account:
        return ctx.store.objects[account_id]
    _platform_only(ctx)
    return _account(ctx, account_id)


@route("POST", "/v1/accounts/{id}")
def update_account(ctx: Ctx) -> Obj:
    account = _account(ctx, ctx.path["id"])
    before = snapshot(account)
    _apply_profile(account, ctx.params)
    _apply_payout_schedule(account, ctx.params)
    emit_account_updated(ctx.store, account, before)
    return account


@route("DELETE", "/v1/accounts/{id}")
def delete_account(ctx: Ctx) -> Obj:
    _platform_only(ctx)
    account = _account(ctx, ctx.path["id"])
    ctx.store.remove(account["id"])
    return {"id": account["id"], "object": "account", "deleted": True}


@route("POST", "/v1/account_links")
def create_account_link(ctx: Ctx) -> Obj:
    _platform_only(ctx)
    account = _account(ctx, req_str(ctx.params, "account"), "account")
    link_type = req_str(ctx.params, "type")
    if link_type not in ("account_onboarding", "account_update"):
        raise invalid_param("type", f"Invalid type: {link_type}")
    token = new_id("alink", 24)
    expires_at = ctx.now + LINK_LIFETIME_SECONDS
    ctx.store.hidden(token).update(
        account=account["id"],
        used=False,
        expires_at=expires_at,
        refresh_url=get_str(ctx.params, "refresh_url"),
        return_url=get_str(ctx.params, "return_url"),
    )
    return {
        "object": "account_link",
        "created": ctx.now,
        "expires_at": expires_at,
        "url": f"{ctx.base_url}/onboarding/{token}",
    }
