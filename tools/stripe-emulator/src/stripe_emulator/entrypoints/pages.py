"""Hosted HTML pages: invoice (Pay), customer portal (add a card), Connect onboarding."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stripe_emulator.context import Ctx
from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.rules.accounts import complete_onboarding
from stripe_emulator.rules.invoicing import collect
from stripe_emulator.rules.payment_methods import attach, new_card
from stripe_emulator.store import Obj, Store

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#1a1f36}"
    "button{background:#635bff;color:#fff;border:0;border-radius:6px;padding:.6rem 1.2rem;"
    "font-size:1rem;cursor:pointer}table{border-collapse:collapse;width:100%}"
    "td{padding:.3rem;border-bottom:1px solid #e3e8ee}.muted{color:#697386}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}"
        "<p class='muted'>Stripe emulator — test mode</p></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def _ctx(store: Store, obj_id: str) -> Ctx:
    """Act for the account that owns `obj_id`."""
    return Ctx.acting_as(store, store.owner.get(obj_id, store.platform_id))


def _invoice_html(invoice: Obj) -> str:
    rows = "".join(
        f"<tr><td>{escape(line['description'] or '')}</td>"
        f"<td>{_money(line['amount'], line['currency'])}</td></tr>"
        for line in invoice["lines"]["data"]
    )
    pay = ""
    if invoice["status"] == "open":
        pay = (
            f"<form method='post' action='/invoice/{invoice['id']}/pay'>"
            "<button type='submit'>Pay</button></form>"
        )
    return (
        f"<p>Invoice {escape(invoice['number'] or invoice['id'])} — status "
        f"<b id='status'>{invoice['status']}</b></p><table>{rows}</table>"
        f"<p>Amount due: <b>{_money(invoice['amount_remaining'], invoice['currency'])}</b></p>"
        f"{pay}"
    )


def pages_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    store = emulator.store

    @router.get("/invoice/{invoice_id}")
    async def invoice_page(invoice_id: str) -> HTMLResponse:
        invoice = store.find(invoice_id)
        if invoice is None or invoice.get("object") != "invoice" or invoice["status"] == "draft":
            return _page("Invoice not found", "", 404)
        return _page("Invoice", _invoice_html(invoice))

    @router.get("/invoice/{invoice_id}/pdf")
    async def invoice_pdf(invoice_id: str) -> Response:
        invoice = store.find(invoice_id)
        if invoice is None or invoice.get("object") != "invoice":
            return Response(status_code=404)
        text = f"Invoice {invoice['number']} amount due {invoice['amount_due']}"
        return Response(text.encode(), media_type="application/pdf")

    @router.post("/invoice/{invoice_id}/pay")
    async def pay_invoice_page(invoice_id: str) -> HTMLResponse:
        async with store.lock:
            invoice = store.find(invoice_id)
            if invoice is None or invoice.get("object") != "invoice":
                return _page("Invoice not found", "", 404)
            ctx = _ctx(store, invoice_id)
            customer = store.find(invoice["customer"] or "")
            pm = None
            if customer is not None and not customer["invoice_settings"]["default_payment_method"]:
                pm = new_card(ctx, "visa")
                attach(ctx, pm, customer)
            try:
                outcome = collect(ctx, invoice, pm, automatic=False)
                message = "Payment succeeded." if outcome.succeeded else "Payment failed."
            except StripeError as error:
                message = error.message
        return _page("Invoice", f"<p>{escape(message)}</p>" + _invoice_html(invoice))

    @router.get("/portal/{session_id}")
    async def portal(session_id: str) -> HTMLResponse:
        session = store.find(session_id)
        if session is None or session.get("object") != "billing_portal.session":
            return _page("Session expired", "", 404)
        customer = store.objects[session["customer"]]
        account = store.owner[session_id]
        subs = "".join(
            f"<li>{s['id']} — {s['status']}</li>"
            for s in (store.objects[i] for i in store.ids(account, "subscription"))
            if s["customer"] == customer["id"]
        )
        cards = "".join(
            f"<li>{pm['card']['brand']} •••• {pm['card']['last4']}</li>"
            for pm in (store.objects[i] for i in store.ids(account, "payment_method"))
            if pm["customer"] == customer["id"] and pm["type"] == "card"
        )
        back = session["return_url"] or "#"
        body = (
            f"<p>{escape(customer['name'] or customer['email'] or customer['id'])}</p>"
            f"<h2>Subscriptions</h2><ul>{subs}</ul><h2>Payment methods</h2><ul>{cards}</ul>"
            f"<form method='post' action='/portal/{session_id}/cards'>"
            "<button type='submit'>Add card (Visa 4242)</button></form>"
            f"<p><a href='{escape(back)}'>Return</a></p>"
        )
        return _page("Billing portal", body)

    @router.post("/portal/{session_id}/cards", response_model=None)
    async def add_card(session_id: str) -> RedirectResponse | HTMLResponse:
        async with store.lock:
            session = store.find(session_id)
            if session is None or session.get("object") != "billing_portal.session":
                return _page("Session expired", "", 404)
            ctx = _ctx(store, session_id)
            customer = store.objects[session["customer"]]
            pm = new_card(ctx, "visa")
            attach(ctx, pm, customer)
            previous = {"invoice_settings": dict(customer["invoice_settings"])}
            customer["invoice_settings"]["default_payment_method"] = pm["id"]
            store.emit("customer.updated", customer, ctx.account, previous)
        return RedirectResponse(f"/portal/{session_id}", status_code=303)

    @router.get("/onboarding/{token}", response_model=None)
    async def onboarding(token: str) -> HTMLResponse | RedirectResponse:
        async with store.lock:
            link = store.meta.get(token)
            if link is None or "account" not in link:
                return _page("Link not found", "", 404)
            if link["used"] or link["expires_at"] < store.now():
                if link["refresh_url"]:
                    return RedirectResponse(link["refresh_url"], status_code=303)
                return _page("This link has expired", "", 410)
            link["used"] = True
        body = (
            f"<p>Account {escape(link['account'])}</p>"
            f"<form method='post' action='/onboarding/{token}/complete'>"
            "<button type='submit'>Complete onboarding</button></form>"
        )
        return _page("Connect onboarding", body)

    @router.post("/onboarding/{token}/complete", response_model=None)
    async def finish(token: str) -> HTMLResponse | RedirectResponse:
        async with store.lock:
            link = store.meta.get(token)
            if link is None or "account" not in link:
                return _page("Link not found", "", 404)
            complete_onboarding(store, link["account"])
        if link["return_url"]:
            return RedirectResponse(link["return_url"], status_code=303)
        return _page("Onboarding complete", "<p>You can close this page.</p>")

    return router
