"""Where a payment belongs: the invoice its payment intent paid and that invoice's tenant,
as Stripe tells it (``/v1/invoice_payments``, the invoice) or as the events already stored
tell it. Pure functions, no I/O.

The events tell it only when they cannot differ from what Stripe would answer: an
``invoice_payment.paid`` names the invoice the payment intent paid (a payment intent pays one
invoice; its id and ``created``, and its subscription, never change), and the invoice's own
events give its tenant, provided one of them shows the invoice as it was once paid and every
one stored agrees on the tenant (metadata that changed at some point is read from Stripe)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from billing_contracts.billing_stripe import PaymentAttribution
from webhook_ingest.rules.normalize import object_metadata
from webhook_ingest.rules.snapshots import id_of, int_or_none, metadata_of

InvoiceFacts = dict[str, Any]
"""What attribution needs of an invoice: ``id``, ``created``, ``metadata``, ``subscription``
and ``parent.subscription_details`` (its ``metadata`` and ``subscription``), as Stripe
shapes them."""


def subscription_of(invoice: Mapping[str, Any]) -> str | None:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return id_of(parent.get("subscription")) or id_of(invoice.get("subscription"))


def invoice_facts(invoice: Mapping[str, Any]) -> InvoiceFacts:
    """The part of an invoice attribution reads (what is worth keeping of it)."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return {
        "id": id_of(invoice.get("id")),
        "created": invoice.get("created"),
        "metadata": metadata_of(invoice.get("metadata")),
        "subscription": id_of(invoice.get("subscription")),
        "parent": {
            "subscription_details": {
                "metadata": metadata_of(details.get("metadata")),
                "subscription": id_of(details.get("subscription")),
            }
        },
    }


def attribution(
    charge_id: str | None,
    intent: str | None,
    invoice: Mapping[str, Any],
    metadata: Mapping[str, str],
) -> PaymentAttribution:
    """The payment's attribution: the invoice it paid (empty: none known) and that invoice's
    tenant, else the charge's (or payment intent's) ``metadata``."""
    tenant = object_metadata(invoice)
    return PaymentAttribution(
        charge_id=charge_id,
        payment_intent_id=intent,
        invoice_id=id_of(invoice.get("id")),
        subscription_id=subscription_of(invoice) if invoice else None,
        invoice_created=invoice.get("created") if invoice else None,
        agency_id=tenant.get("agency_id") or metadata.get("agency_id"),
        workspace_id=tenant.get("workspace_id") or metadata.get("workspace_id"),
    )


def oldest_payment(payments: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Of the invoice payments Stripe lists for a payment intent, the one whose invoice it
    paid: the oldest (the same answer however often it is read)."""
    ordered = sorted(payments, key=lambda p: (p.get("created") or 0, p.get("id") or ""))
    return ordered[0] if ordered else None


@dataclass(frozen=True)
class StoredLink:
    """One stored ``invoice_payment.paid`` of a payment intent with one stored event of the
    invoice it names (``seen`` None: none is stored): a row of ``repository.STORED_LINKS``.
    The invoice's fields are JSON text, as the event carries them."""

    invoice_id: str | None
    paid_seen: int
    """The ``created`` of the ``invoice_payment.paid`` event."""
    seen: int | None = None
    """The ``created`` of the invoice's event."""
    invoice_created: str | None = None
    metadata: str | None = None
    subscription: str | None = None
    subscription_details: str | None = None
    """The invoice's ``parent.subscription_details``."""


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def _stored_invoice(link: StoredLink) -> InvoiceFacts:
    details = _json(link.subscription_details)
    return invoice_facts(
        {
            "id": link.invoice_id,
            "created": int_or_none(_json(link.invoice_created)),
            "metadata": _json(link.metadata),
            "subscription": _json(link.subscription),
            "parent": {"subscription_details": details if isinstance(details, Mapping) else {}},
        }
    )


def _told(invoice: InvoiceFacts) -> tuple[Any, ...]:
    tenant = object_metadata(invoice)
    return (
        invoice["id"],
        invoice["created"],
        subscription_of(invoice),
        tenant.get("agency_id"),
        tenant.get("workspace_id"),
    )


def stored_invoice(links: Iterable[StoredLink]) -> InvoiceFacts | None:
    """The invoice a payment intent paid as the stored events tell it, or None when they do
    not tell it for sure (then Stripe is asked): its ``invoice_payment.paid`` all name one
    invoice, an event of that invoice at least as recent as the payment is stored, and every
    stored event of the invoice tells the same id, ``created``, subscription and tenant."""
    links = list(links)
    if not links or len({link.invoice_id for link in links}) != 1 or links[0].invoice_id is None:
        return None
    paid_seen = max(link.paid_seen for link in links)
    seen = [link for link in links if link.seen is not None]
    if not any(link.seen is not None and link.seen >= paid_seen for link in seen):
        return None
    invoices = [_stored_invoice(link) for link in seen]
    if len({_told(invoice) for invoice in invoices}) != 1 or invoices[0]["created"] is None:
        return None
    return invoices[0]
