"""Customers and billing portal sessions."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.expansion import fixed_includable, includable
from stripe_emulator.forms import Params, get_dict, get_str, merge_metadata
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.customers import get_customer
from stripe_emulator.rules.payment_methods import attach, resolve_payment_method
from stripe_emulator.shapes.common import empty_list, null_address
from stripe_emulator.shapes.customers import customer_shape, portal_session_shape
from stripe_emulator.store import Obj, Store, changed, new_id, snapshot

TEXT_FIELDS = ("email", "name", "description", "phone")


def _apply(ctx: Ctx, customer: Obj, params: Params) -> None:
    for field in TEXT_FIELDS:
        if field in params:
            customer[field] = get_str(params, field)
    if "address" in params:
        address = get_dict(params, "address")
        customer["address"] = {**null_address(), **address} if address else None
    if "preferred_locales" in params:
        customer["preferred_locales"] = list(params["preferred_locales"] or [])
    customer["metadata"] = merge_metadata(customer["metadata"], params)
    settings = get_dict(params, "invoice_settings")
    if "default_payment_method" in settings:
        pm_id = settings["default_payment_method"] or None
        if pm_id is not None:
            pm = resolve_payment_method(
                ctx, pm_id, "invoice_settings[default_payment_method]", customer
            )
            if pm["customer"] != customer["id"]:
                raise StripeError(
                    f"The customer does not have a payment method with the ID {pm_id}. The "
                    "payment method must be attached to the customer.",
                    param="invoice_settings[default_payment_method]",
                )
            pm_id = pm["id"]
        customer["invoice_settings"]["default_payment_method"] = pm_id
    if "footer" in settings:
        customer["invoice_settings"]["footer"] = settings["footer"] or None


@route("POST", "/v1/customers")
def create_customer(ctx: Ctx) -> Obj:
    prefix = get_str(ctx.params, "invoice_prefix") or new_id("x", 8)[2:].upper()
    customer = customer_shape(new_id("cus", 14), ctx.now, prefix)
    ctx.store.add(customer, ctx.account)
    pm_id = get_str(ctx.params, "payment_method")
    if pm_id is not None:
        attach(ctx, resolve_payment_method(ctx, pm_id, "payment_method"), customer)
    _apply(ctx, customer, ctx.params)
    ctx.store.emit("customer.created", customer, ctx.account)
    return customer


@route("GET", "/v1/customers")
def list_customers(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "customer",
        "/v1/customers",
        field_filter(ctx.params, "email"),
        lambda c: not ctx.store.hidden(c["id"]).get("deleted"),
    )


@route("GET", "/v1/customers/{id}")
def retrieve_customer(ctx: Ctx) -> Obj:
    customer = get_customer(ctx, ctx.path["id"])
    if ctx.store.hidden(customer["id"]).get("deleted"):
        return {"id": customer["id"], "object": "customer", "deleted": True}
    return customer


@route("POST", "/v1/customers/{id}")
def update_customer(ctx: Ctx) -> Obj:
    customer = get_customer(ctx, ctx.path["id"])
    before = snapshot(customer)
    _apply(ctx, customer, ctx.params)
    ctx.store.emit("customer.updated", customer, ctx.account, changed(before, customer))
    return customer


@route("DELETE", "/v1/customers/{id}")
def delete_customer(ctx: Ctx) -> Obj:
    customer = get_customer(ctx, ctx.path["id"])
    ctx.store.hidden(customer["id"])["deleted"] = True
    ctx.store.emit("customer.deleted", customer, ctx.account)
    return {"id": customer["id"], "object": "customer", "deleted": True}


@route("GET", "/v1/customers/{id}/payment_methods")
def list_customer_payment_methods(ctx: Ctx) -> Obj:
    customer = get_customer(ctx, ctx.path["id"])
    return list_objects(
        ctx,
        "payment_method",
        f"/v1/customers/{customer['id']}/payment_methods",
        lambda pm: pm["customer"] == customer["id"],
        field_filter(ctx.params, "type"),
    )


@route("POST", "/v1/billing_portal/sessions")
def create_portal_session(ctx: Ctx) -> Obj:
    customer = get_customer(ctx, ctx.params.get("customer"), "customer")
    session_id = new_id("bps")
    session = portal_session_shape(
        session_id,
        ctx.now,
        customer["id"],
        get_str(ctx.params, "return_url"),
        f"{ctx.base_url}/portal/{session_id}",
    )
    ctx.store.add(session, ctx.account)
    ctx.store.emit("billing_portal.session.created", session, ctx.account)
    return session


# fields Stripe includes only when expanded --------------------------------------------
INCLUDED_SUBSCRIPTIONS = 10
ENDED = ("canceled", "incomplete_expired")


def _never_filled(name: str) -> None:
    """A customer sub-list the emulator never fills (legacy sources, tax ids): empty."""

    @includable("customer", name)
    def empty(store: Store, customer: Obj) -> Obj:
        del store
        return empty_list(f"/v1/customers/{customer['id']}/{name}")


for _name in ("sources", "tax_ids"):
    _never_filled(_name)
fixed_includable("customer", "cash_balance", None)
fixed_includable("customer", "invoice_credit_balance", {})
fixed_includable(
    "customer",
    "tax",
    {
        "automatic_tax": "unrecognized_location",
        "ip_address": None,
        "location": None,
        "provider": "stripe",
    },
)


@includable("customer", "subscriptions")
def _subscriptions(store: Store, customer: Obj) -> Obj:
    account = store.owner.get(customer["id"], store.platform_id)
    current = [
        sub
        for sub in (store.objects[i] for i in reversed(store.ids(account, "subscription")))
        if sub["customer"] == customer["id"] and sub["status"] not in ENDED
    ]
    shown = current[:INCLUDED_SUBSCRIPTIONS]
    listed = empty_list(f"/v1/customers/{customer['id']}/subscriptions")
    listed.update(data=shown, has_more=len(shown) < len(current))
    return listed
